"""Opening a run directory runs no code: plugin code named in its config.json is imported only
when the user names it again (--plugins) or says they trust the run (--trust-plugins)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers import one_error, run

import gankit
from gankit.errors import RunError

EVIL = '''
from pathlib import Path
Path({marker!r}).write_text("ran")
from gankit.nets import NETS, register_net
register_net("evil-net")(NETS["mlp"])
'''


@pytest.fixture
def planted(tmp_path):
    """A real run whose config.json was edited to need `evil-net` from a plugin file inside the
    run; importing that file leaves a marker file behind."""
    gan = gankit.GAN("mlp", "digits", out="run", width=16, batch_size=16, log_every=2,
                     sample_every=10**6, checkpoint_every=10**6)
    gan.fit(steps=2, progress=False)
    marker = tmp_path / "the-plugin-ran"
    evil = gan.run_dir / "shared" / "evil.py"
    evil.parent.mkdir()
    evil.write_text(EVIL.format(marker=str(marker)))
    cfg_path = gan.run_dir / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model"].update(model="evil-net", plugins=str(evil.resolve()))
    cfg_path.write_text(json.dumps(cfg))
    return gan.run_dir, marker, evil


@pytest.mark.parametrize("argv", [
    ["sample", "{run}", "--num", "4", "--output", "s.npz"],
    ["eval", "{run}", "--num", "8", "--metrics", "fid"],
    ["report", "{run}"],
    ["export", "{run}"],
    ["translate", "{run}", "x.png", "--output", "out"],
    ["augment", "{run}", "--per-class", "1", "--output", "a.npz"],
    ["train", "--resume", "{run}", "--steps", "4", "--no-progress"],
])
def test_no_command_imports_plugin_code_a_run_names(planted, capsys, argv):
    run_dir, marker, _ = planted
    before = sorted(p.name for p in run_dir.rglob("*"))
    line = one_error(capsys, *[a.format(run=run_dir) for a in argv])
    assert "needs model 'evil-net'" in line and "--trust-plugins" in line
    assert not marker.exists()
    assert sorted(p.name for p in run_dir.rglob("*")) == before   # nothing changed on disk


def test_info_describes_such_a_run_without_importing_it(planted, capsys):
    run_dir, marker, _ = planted
    code, out, _ = run(capsys, "info", run_dir)
    assert code == 0 and "evil-net" in out and not marker.exists()


def test_python_load_run_refuses_too_and_a_module_name_is_not_imported(planted):
    run_dir, marker, _ = planted
    with pytest.raises(RunError, match="evil-net"):
        gankit.load_run(run_dir)
    cfg = json.loads((run_dir / "config.json").read_text())
    cfg["model"]["plugins"] = "this"   # a module name: `import this` prints the Zen of Python
    (run_dir / "config.json").write_text(json.dumps(cfg))
    sys.modules.pop("this", None)
    with pytest.raises(RunError):
        gankit.load_run(run_dir, weights_only=True)
    assert "this" not in sys.modules and not marker.exists()


def test_trusting_the_run_or_naming_the_plugin_imports_it(planted, capsys):
    run_dir, marker, evil = planted
    code, _, err = run(capsys, "sample", run_dir, "--num", "4", "--output", "s.npz",
                       "--trust-plugins")
    assert code == 0, err
    assert marker.read_text() == "ran" and Path("s.npz").exists()


def test_naming_the_plugin_in_python_imports_it(planted):
    run_dir, marker, evil = planted
    gan = gankit.load_run(run_dir, weights_only=True, plugins=str(evil))
    assert marker.exists() and gan.sample(2).shape[0] == 2
