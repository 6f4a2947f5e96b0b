"""Self-test against the simulated devices (real drivers) and the real reference platform."""
from __future__ import annotations

import re
import time

import pytest

from central.testing import run_server
from devices import registry
from devices.base import wait_for
from common.events import EventBus
from kiosk.platform import PlatformClient
from kiosk.selftest import FAIL, PASS, SKIP, WARN, SelfTest, failed, format_table


@pytest.fixture
def platform(tmp_path):
    with run_server(tmp_path / "central.db", kiosk_id="selftest-kiosk") as server:
        yield server


@pytest.fixture
def kiosk(make_config, platform, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(platform.token)
    config = make_config(f'[kiosk]\nid = "selftest-kiosk"\ndata_dir = "{tmp_path / "var"}"\n'
                         f'[platform]\nurl = "{platform.base_url}"\ntoken_file = "{token_file}"\n'
                         '[devices.qr_scanner]\nenabled = false\n')
    devices = registry.build_all(config, EventBus())
    for device in devices.values():
        device.open()
    client = PlatformClient.from_config(config)
    yield config, devices, client
    for device in devices.values():
        device.close()
    client.close()


def by_name(results):
    return {r.name: r for r in results}


def test_everything_passes_on_a_healthy_kiosk(kiosk, platform):
    config, devices, client = kiosk
    results = SelfTest(config, devices, client, wait_s=5).run()
    table = format_table(results)
    got = by_name(results)
    assert not failed(results), table
    for name in ("id_reader", "camera", "document_camera", "receipt_printer", "licence_printer", "platform",
                 "clock", "disk"):
        assert got[name].status == PASS, table
    assert got["qr_scanner"].status == SKIP
    assert "test receipt printed" in got["receipt_printer"].reason
    assert devices["receipt_printer"].simulator.receipts, "no receipt reached the printer"
    assert list((config.data_dir / "prints").glob("*calibration*.pdf")), "no test page reached the licence printer"
    # The self-test's heartbeat reached the platform with the device statuses.
    assert platform.store.one("SELECT last_heartbeat FROM kiosks WHERE kiosk_id = 'selftest-kiosk'")["last_heartbeat"]


def test_faults_fail_with_reasons_and_skew_warns(kiosk):
    config, devices, client = kiosk
    printer = devices["receipt_printer"]
    printer.simulator.paper_out = True
    assert wait_for(lambda: printer.status.code == "paper_out", 5), "the printer's poll never saw the paper out"
    client.token = "not-the-token"
    results = by_name(SelfTest(config, devices, client, wait_s=3, print_tests=False).run())
    assert results["receipt_printer"].status == FAIL and "paper" in results["receipt_printer"].reason
    assert results["platform"].status == FAIL and "enrol again" in results["platform"].reason
    assert results["clock"].status == SKIP


def test_clock_skew_above_two_minutes_warns(kiosk):
    config, devices, client = kiosk
    ahead = SelfTest(config, {}, client, clock=lambda: time.time() + 300).run()
    clock = by_name(ahead)["clock"]
    skew = float(re.search(r"ahead of the platform by ([0-9.]+) s", clock.reason).group(1))
    assert clock.status == WARN and 295 < skew < 305      # 300 s, less the round trip's half
    fine = by_name(SelfTest(config, {}, client, clock=lambda: time.time() + 30).run())["clock"]
    assert fine.status == PASS


def test_unreachable_platform_fails(make_config):
    config = make_config('[platform]\nurl = "http://127.0.0.1:9"\n')
    client = PlatformClient("http://127.0.0.1:9", token="t", timeout=2)
    results = by_name(SelfTest(config, {}, client).run())
    assert results["platform"].status == FAIL and "not reachable" in results["platform"].reason


def test_kioskctl_selftest_exit_status(kiosk, capsys, platform):
    from kiosk.cli import main as kioskctl
    from offline_queue.outbox import Outbox
    config, _devices, _client = kiosk
    Outbox.from_config(config).close()      # the queue the app would have created
    assert kioskctl(["--config", config.source, "selftest", "--no-print", "--wait", "5"]) == 0
    out = capsys.readouterr().out
    assert "PASS  platform" in out and "PASS  queue            0 waiting" in out and "FAIL" not in out
    platform.store.execute("UPDATE kiosks SET revoked = 1 WHERE kiosk_id = 'selftest-kiosk'")
    assert kioskctl(["--config", config.source, "selftest", "--no-print", "--wait", "5"]) == 1
    assert "FAIL  platform" in capsys.readouterr().out
