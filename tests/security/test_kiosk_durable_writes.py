"""Small files that decide the kiosk's trust survive a power cut (issue 12.7): the data is
fsynced before the rename and the directory after it, so the name points at the new file."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk import config as cfg


@pytest.fixture
def disk(monkeypatch):
    """Records fsyncs and renames, in order, as ("fsync", path) / ("rename", target)."""
    events: list[tuple[str, Path]] = []
    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename

    def fsync(fd):
        events.append(("fsync", Path(os.readlink(f"/proc/self/fd/{fd}"))))
        return real_fsync(fd)

    def replace(src, dst, **kw):
        real_replace(src, dst, **kw)
        events.append(("rename", Path(dst).resolve()))

    def rename(src, dst, **kw):
        real_rename(src, dst, **kw)
        events.append(("rename", Path(dst).resolve()))
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    return events


def assert_durable(events, path: Path) -> None:
    path = path.resolve()
    renames = [i for i, (what, where) in enumerate(events) if what == "rename" and where == path]
    assert renames, f"{path} was not written by rename"
    last = renames[-1]
    data_synced = any(what == "fsync" and where.parent == path.parent and where.name.endswith(".tmp")
                      for what, where in events[:last])
    dir_synced = any(what == "fsync" and where == path.parent for what, where in events[last:])
    assert data_synced, f"{path}: data not fsynced before the rename"
    assert dir_synced, f"{path}: directory not fsynced after the rename"


def test_token_is_fsynced_and_its_directory_too(disk, tmp_path):
    from kiosk.platform import save_token
    config = cfg.parse(f'[kiosk]\ndata_dir = "{tmp_path}"\n')
    path = save_token(config, "kt_secret")
    assert path.read_text() == "kt_secret" and path.stat().st_mode & 0o777 == 0o600
    assert_durable(disk, path)


def test_config_update_is_durable(disk, tmp_path):
    from provisioning.configfile import update_file
    path = tmp_path / "kiosk.toml"
    update_file(path, {"kiosk": {"id": "k-1"}})
    assert_durable(disk, path)


def test_pin_lockout_state_is_durable(disk, tmp_path):
    from kiosk.pin import PinGate, hash_pin
    gate = PinGate(hash_pin("482913"), tmp_path / "maintenance" / "pin_state.json")
    gate.check("000000")
    assert_durable(disk, tmp_path / "maintenance" / "pin_state.json")
