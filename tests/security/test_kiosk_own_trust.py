"""Code running as the kiosk user cannot rewrite the kiosk's trust (issue 12.6): the
config is read-only to the app, what it must write lives in its own files, and the
maintenance PIN locks out for longer and longer, reported to the fleet page."""
from __future__ import annotations

import os
import stat

import pytest

from central import admin, fleet_page
from central.testing import run_server
from kiosk import config as cfg
from kiosk.core import KioskCore
from kiosk.heartbeat import build_payload
from kiosk.platform import PlatformClient
from provisioning import install
from provisioning.install import Installer, render_unit
from kiosk.maintenance import Maintenance
from kiosk.pin import PinGate, hash_pin

PIN = "482913"


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def pin_hash():
    return hash_pin(PIN)


def test_lockout_escalates_and_survives_a_restart(tmp_path, pin_hash):
    clock, state = Clock(), tmp_path / "pin_state.json"
    locks = []
    for _round in range(3):
        gate = PinGate(pin_hash, state, clock=clock)   # a new gate each round: the app restarted
        results = [gate.check("000000") for _ in range(5)]
        assert [r.outcome for r in results] == ["wrong"] * 4 + ["locked"]
        locks.append(results[-1].locked_for_s)
        assert gate.check(PIN).outcome == "locked"      # even the right PIN waits
        clock.now += locks[-1] + 1
    assert locks == [60.0, 120.0, 240.0]
    gate = PinGate(pin_hash, state, clock=clock)
    assert gate.failed_attempts() == 15
    assert gate.check(PIN).ok and gate.failed_attempts() == 0
    assert [gate.check("000000").outcome for _ in range(5)][-1] == "locked"
    assert gate.locked_for() == pytest.approx(60.0)     # the right PIN reset the escalation


def test_lockout_is_capped(tmp_path, pin_hash):
    clock = Clock()
    gate = PinGate(pin_hash, tmp_path / "pin_state.json", clock=clock, max_failures=1)
    for _ in range(20):
        result = gate.check("000000")
        clock.now += result.locked_for_s + 1
    assert result.locked_for_s == PinGate.MAX_LOCKOUT_S


def test_wrong_pins_reach_the_fleet_page_as_a_count(tmp_path, pin_hash):
    with run_server(tmp_path / "central.db", kiosk_id="k-pin") as platform:
        token = tmp_path / "token"
        token.write_text(platform.token)
        config = cfg.parse(f'[kiosk]\nid = "k-pin"\ndata_dir = "{tmp_path / "var"}"\n'
                           f'[platform]\nurl = "{platform.base_url}"\ntoken_file = "{token}"\n'
                           f'[maintenance]\npin_hash = "{pin_hash}"\n')
        core = KioskCore(config)
        for pin in ("111111", "222222", "333333"):
            Maintenance(core).enter(pin)
        payload = build_payload(core, 0.0)
        assert payload["maintenance_pin_failures"] == 3
        assert not any(pin in str(payload) for pin in ("111111", "222222", "333333"))
        PlatformClient(platform.base_url, platform.token).heartbeat(payload)
        kiosk = next(k for k in admin.fleet(platform.store) if k.kiosk_id == "k-pin")
        assert "3 wrong maintenance PIN(s)" in kiosk.problems
        assert "3 wrong maintenance PIN(s)" in fleet_page.render(platform.store)


class Machine:
    def __init__(self):
        self.users = {}

    def run(self, command):
        if command[0] == "useradd":
            self.users[command[-1]] = (os.getuid(), os.getgid())

    def user_ids(self, name):
        return self.users.get(name)


def test_install_gives_the_app_a_read_only_config(tmp_path):
    machine = Machine()
    installer = Installer(root=tmp_path, run=machine.run, user_ids=machine.user_ids,
                          which=lambda cmd: f"/usr/bin/{cmd}", member_of=lambda _u: set())
    installer.apply(installer.plan(), say=lambda _line: None)
    etc, config = tmp_path / "etc" / "kiosk", tmp_path / "etc" / "kiosk" / "kiosk.toml"
    assert stat.S_IMODE(etc.stat().st_mode) == 0o750      # the kiosk group may enter, not create or rename
    assert stat.S_IMODE(config.stat().st_mode) == 0o640   # ... and read, not write
    unit = render_unit(installer.app_dir, "/usr/bin/cage")
    read_write = [line for line in unit.splitlines() if line.startswith("ReadWritePaths=")]
    assert read_write and all("/etc" not in line for line in read_write)
    assert "ProtectSystem=full" in unit                  # /etc is read-only to the service


def test_calibration_is_saved_in_the_apps_own_files_not_the_config(tmp_path, pin_hash):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\n[heartbeat]\nenabled = false\n'
                    f'[platform]\nurl = "http://127.0.0.1:9"\n[devices.licence_printer]\n'
                    f'driver = "file"\n', encoding="utf-8")
    os.chmod(path, 0o440)
    before = path.read_bytes()
    core = KioskCore(cfg.load(path))
    core.start()
    try:
        assert Maintenance(core).save_calibration(21.5, 19.0) == (-1.5, 1.0)
    finally:
        core.stop()
    assert path.read_bytes() == before
    restarted = KioskCore(cfg.load(path))
    restarted.start()
    try:
        assert tuple(restarted.devices["licence_printer"].offset_mm) == (-1.5, 1.0)
    finally:
        restarted.stop()


def test_a_production_app_does_not_enrol_itself_from_a_scanned_qr(tmp_path):
    """Enrolment rewrites the kiosk's trust, which the app may not do: the maintenance screen
    shows the host the QR names and how to enrol as root, and the code is not spent."""
    from central.admin import create_enroll_code
    from central.platform_key import PlatformIdentity
    from provisioning.enroll import EnrolQr
    from kiosk.maintenance import MaintenanceError
    with run_server(tmp_path / "central.db") as platform:
        path = tmp_path / "kiosk.toml"
        path.write_text(f'[kiosk]\nprofile = "production"\ndata_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
        before = path.read_bytes()
        code = create_enroll_code(platform.store)
        fingerprint = PlatformIdentity.for_store(platform.store).fingerprint
        qr = EnrolQr(platform.base_url, code, fingerprint).encode()
        with pytest.raises(MaintenanceError, match="127.0.0.1.*kioskctl enroll"):
            Maintenance(KioskCore(cfg.load(path))).enrol_from_qr(qr)
        assert path.read_bytes() == before
        assert platform.store.one("SELECT used_at FROM enroll_codes")["used_at"] is None
