"""Technician PIN: scrypt hash, five tries then a five-minute lockout that survives restarts."""
from __future__ import annotations

import io
import logging

import pytest

from kiosk import config as cfg
from kiosk.cli import main as kioskctl
from provisioning.configfile import update_text
from kiosk.pin import PinFormatError, PinGate, hash_pin, verify_pin

PIN = "482913"


class FakeClock:
    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def pin_hash():
    return hash_pin(PIN)


def test_hash_is_salted_scrypt_and_verifies(pin_hash):
    assert pin_hash.startswith("scrypt$") and PIN not in pin_hash
    assert pin_hash != hash_pin(PIN)
    assert verify_pin(PIN, pin_hash) and not verify_pin("482914", pin_hash)
    assert not verify_pin(PIN, "scrypt$garbage")


@pytest.mark.parametrize("bad", ["1234", "abcdef", "111111", "123456", "987654", "4829131234567"])
def test_weak_or_malformed_pins_are_refused(bad):
    with pytest.raises(PinFormatError):
        hash_pin(bad)


def test_five_wrong_tries_lock_for_a_minute_across_restarts(tmp_path, pin_hash, caplog):
    caplog.set_level(logging.INFO)
    clock = FakeClock()
    state = tmp_path / "maintenance" / "pin_state.json"
    gate = PinGate(pin_hash, state, clock=clock)
    for tries_left in (4, 3, 2, 1):
        assert gate.check("000001").tries_left == tries_left
    locked = gate.check("000001")
    assert locked.outcome == "locked" and locked.locked_for_s == 60  # escalation: tests/security/test_kiosk_own_trust.py

    # A restart (new gate on the same state file) is still locked, even for the right PIN.
    clock.now += 59
    restarted = PinGate(pin_hash, state, clock=clock)
    assert restarted.check(PIN).outcome == "locked"
    assert restarted.locked_for() == pytest.approx(1)

    clock.now += 2
    assert restarted.check(PIN).ok
    assert restarted.check("000001").tries_left == 4     # a success resets the counter

    assert PIN not in caplog.text
    assert "entry locked for 60 s" in caplog.text and "maintenance mode entered" in caplog.text
    assert caplog.text.count("maintenance PIN wrong") >= 5


def test_damaged_state_file_keeps_the_door_locked(tmp_path, pin_hash):
    state = tmp_path / "pin_state.json"
    state.write_text("{not json")
    assert PinGate(pin_hash, state, clock=FakeClock()).check(PIN).outcome == "locked"


def test_no_pin_set_refuses_entry(tmp_path):
    assert PinGate("", tmp_path / "s.json").check("").outcome == "not_set"


def test_set_pin_writes_a_hash_into_the_config(tmp_path, monkeypatch, capsys):
    path = tmp_path / "kiosk.toml"
    path.write_text("# keep me\n[maintenance]\npin_hash = \"\"\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(PIN + "\n"))
    assert kioskctl(["--config", str(path), "maintenance", "set-pin", "--pin-stdin"]) == 0
    stored = cfg.load(path).maintenance.pin_hash
    assert verify_pin(PIN, stored) and "# keep me" in path.read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO("1234\n"))
    assert kioskctl(["--config", str(path), "maintenance", "set-pin", "--pin-stdin"]) == 1
    assert "6 to 12 digits; nothing changed" in capsys.readouterr().err
    assert cfg.load(path).maintenance.pin_hash == stored


def test_config_update_keeps_comments_and_replaces_multiline_arrays():
    text = '# top\n[menu]\npubkeys = [\n  "old1",\n  "old2",\n]  # pinned\npoll_interval_s = 60\n\n[kiosk]\nid = "a" # x\n'
    new = update_text(text, {"menu": {"pubkeys": ["new"]}, "kiosk": {"id": "b", "region": "110101"},
                             "devices.camera": {"driver": "opencv"}})
    config = cfg.parse(new)
    assert config.menu.pubkeys == ["new"] and config.menu.poll_interval_s == 60
    assert config.kiosk.id == "b" and config.kiosk.region == "110101"
    assert config.devices.camera.driver == "opencv"
    assert new.startswith("# top\n") and "old1" not in new


def test_config_update_refuses_unknown_keys():
    with pytest.raises(cfg.ConfigError, match="unknown key 'nope'"):
        update_text("", {"kiosk": {"nope": 1}})
