"""The layers of issue 13, enforced: import-linter's contracts in ``.importlinter``
(screens reach devices, the platform and the queue only through the core; the core
never imports the UI; no import cycles), plus what an import graph cannot see -- a
screen reaching the core's collaborators through an attribute."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE_PRIVATE = {"devices", "platform", "sender", "outbox"}


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([str(lint), "--no-cache", str(ROOT / ".importlinter")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and "KEPT" in done.stdout


def test_no_screen_reaches_the_cores_devices_platform_or_queue():
    """``app.core.devices`` / ``.platform`` / ``.sender`` / ``.outbox`` are the core's own:
    screens call its use cases instead."""
    reached = []
    for path in sorted((ROOT / "screens").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in CORE_PRIVATE
                    and isinstance(node.value, ast.Attribute) and node.value.attr in ("core", "_core")):
                reached.append(f"{path.name}:{node.lineno} core.{node.attr}")
    assert reached == []
