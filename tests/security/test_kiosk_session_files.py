"""A crash, a SIGKILL or a power cut must not leave a resident's scans behind (issue 12.1).

The first test kills a real kiosk process mid-session and starts the kiosk
again, as systemd does after the watchdog fires."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk import config as cfg

ROOT = Path(__file__).resolve().parents[2]

MID_SESSION = """
import sys, time
from kiosk import config as cfg
from kiosk.core import KioskCore
core = KioskCore(cfg.load(sys.argv[1]))
session = core.begin_session()
scans = session.temp_dir / "materials" / "id_card"
scans.mkdir(parents=True)
(scans / "page1.jpg").write_bytes(b"\\xff\\xd8 440304199001010026 scan")
(session.temp_dir / "signature.png").write_bytes(b"\\x89PNG signature of the resident")
print(session.temp_dir, flush=True)
time.sleep(120)
"""

RESTART = """
import sys
from kiosk import config as cfg
from kiosk.core import KioskCore
core = KioskCore(cfg.load(sys.argv[1]))
core.start()
core.stop()
"""

CONFIG = """
[kiosk]
data_dir = "{data_dir}"
[platform]
url = "http://127.0.0.1:9"
timeout_s = 0.5
[heartbeat]
enabled = false
"""


def _python(code: str, config_path: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RUNTIME_DIRECTORY", None)
    return subprocess.Popen([sys.executable, "-c", code, str(config_path)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, text=True, **kwargs)


def _filesystem_type(path: Path) -> str:
    return subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def kiosk_config(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(CONFIG.format(data_dir=tmp_path / "var"), encoding="utf-8")
    return path


def test_sigkill_mid_session_then_restart_leaves_no_scan(kiosk_config, tmp_path):
    child = _python(MID_SESSION, kiosk_config)
    try:
        session_dir = Path(child.stdout.readline().strip())
        assert (session_dir / "materials" / "id_card" / "page1.jpg").exists()
        # The files never touch a disk: a power cut takes them with the RAM.
        assert _filesystem_type(session_dir) in ("tmpfs", "ramfs")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    restart = _python(RESTART, kiosk_config)
    assert restart.wait(60) == 0
    assert not session_dir.exists()
    left = [p for p in (tmp_path / "var").rglob("*") if p.name in ("page1.jpg", "signature.png")]
    assert left == []
    shutil.rmtree(session_dir.parent, ignore_errors=True)


def test_session_root_planted_by_someone_else_is_refused(tmp_path):
    """/dev/shm is world-writable: a symlink planted where the kiosk keeps its session
    files must not redirect a resident's scans to a place another user chose."""
    from kiosk.session import SessionFiles, SessionStorageError
    config = cfg.parse(f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\n')
    files = SessionFiles(config)
    planted = files.candidates()[-1]
    target = tmp_path / "attacker"
    target.mkdir()
    planted.symlink_to(target)
    try:
        with pytest.raises(SessionStorageError, match="not a private directory"):
            files.root
    finally:
        planted.unlink()


def test_production_without_a_ram_filesystem_refuses_to_keep_scans_on_disk(tmp_path, monkeypatch):
    from kiosk import session as session_module
    config = cfg.parse(f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\nprofile = "production"\n')
    monkeypatch.setattr(session_module, "filesystem_type", lambda _path: "ext4")
    with pytest.raises(session_module.SessionStorageError, match="RAM"):
        session_module.SessionFiles(config).root
    dev = cfg.parse(f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\n')
    assert session_module.SessionFiles(dev).root == tmp_path / "var" / "sessions"


def test_unhandled_ui_exception_wipes_the_session_before_the_app_dies(tmp_path):
    """Kivy's ExceptionManager gets the handler screens.app registers: the scans are gone
    when the exception leaves the main loop, before a shutdown that could hang."""
    os.makedirs(os.environ["KIVY_HOME"], exist_ok=True)
    from kivy.base import ExceptionManager

    from kiosk.core import KioskCore
    from screens.bootstrap import wipe_on_crash
    core = KioskCore(cfg.parse(f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\n'))

    class App:  # what the handler uses of KioskApp
        session = property(lambda self: core.session)
        core = property(lambda self: core)
    app = App()
    session = core.begin_session()
    scan = session.temp_dir / "page1.jpg"
    scan.write_bytes(b"scan")
    handlers = list(ExceptionManager.handlers)
    wipe_on_crash(app)
    try:
        assert ExceptionManager.handle_exception(RuntimeError("bug in a screen")) == ExceptionManager.RAISE
    finally:
        ExceptionManager.handlers[:] = handlers
    assert core.session is None and not scan.exists()
    core.session_files.release()
