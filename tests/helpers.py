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


def quiet(**kw: Any) -> dict[str, Any]:
    """Training options that write no sample grids or checkpoints before the end."""
    return {"log_every": 50, "sample_every": 10**6, "checkpoint_every": 10**6, **kw}


def digits_gan(out: Any, **kw: Any) -> Any:
    """A small DCGAN on the 8x8 digits (upscaled to 32): a few steps per CPU-second."""
    import gankit
    return gankit.GAN("dcgan", "digits", out=out, batch_size=16, width=16, **quiet(**kw))


def last_checkpoint_files(run: Any) -> dict[str, dict[str, Any]]:
    """The tensors of a run's newest checkpoint: file stem -> name -> tensor."""
    from safetensors.torch import load_file
    from gankit.train.state import list_checkpoints
    ckpt = list_checkpoints(run)[-1]
    return {f.stem: load_file(str(f)) for f in ckpt.glob("*.safetensors")}
