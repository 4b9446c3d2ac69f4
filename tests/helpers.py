"""Helpers the test modules share (pytest puts tests/ on sys.path: see pyproject.toml)."""
from __future__ import annotations

from typing import Any, Optional

from gankit.cli import main


def run(capsys: Any, *argv: Any) -> tuple[int, str, str]:
    """`gankit ARGV...` in-process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(capsys: Any, *argv: Any, match: Optional[str] = None, alone: bool = False) -> str:
    """Run a command that must fail the user-facing way: exit code 2, exactly one line
    `gankit: error: ...` (containing `match`), no traceback; with `alone`, nothing else on stderr.
    Returns that line."""
    code, _, err = run(capsys, *argv)
    lines = [ln for ln in err.splitlines() if ln.startswith("gankit: error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert match is None or match in lines[0], err
    assert not alone or err == lines[0] + "\n", err
    return lines[0]
