"""Heartbeat from a real KioskCore to the real reference platform."""
from __future__ import annotations

import json
import random
import time

import pytest

from central.testing import run_server
from kiosk.core import KioskCore
from kiosk.platform import PlatformClient
from kiosk.heartbeat import Heartbeat, build_payload


@pytest.fixture
def platform(tmp_path):
    with run_server(tmp_path / "central.db", kiosk_id="beat-kiosk") as server:
        yield server


@pytest.fixture
def core(make_config, platform, tmp_path):
    config = make_config(f'[kiosk]\nid = "beat-kiosk"\ndata_dir = "{tmp_path / "var"}"\n'
                         f'[platform]\nurl = "{platform.base_url}"\n'
                         '[heartbeat]\ninterval_s = 1\njitter = 0.2\n')
    kiosk = KioskCore(config)
    kiosk.platform = PlatformClient(platform.base_url, token=platform.token)
    kiosk.start()
    yield kiosk
    kiosk.stop()


def stored_beat(platform):
    row = platform.store.one("SELECT last_heartbeat FROM kiosks WHERE kiosk_id = 'beat-kiosk'")
    return json.loads(row["last_heartbeat"]) if row["last_heartbeat"] else None


def test_payload_carries_what_the_fleet_view_needs(core):
    payload = build_payload(core, time.monotonic() - 12)
    assert payload["kiosk_id"] == "beat-kiosk" and payload["uptime_s"] >= 12
    assert set(payload["devices"]) >= {"id_reader", "receipt_printer", "licence_printer"}
    assert set(payload["devices"]["receipt_printer"]) == {"state", "reason", "code"}
    assert payload["queue"] == {"depth": 0, "dead": 0}
    assert payload["free_disk_mb"] > 0
    assert payload["menu_version"] == (str(core.menu.version) if core.menu else None)


def test_thread_beats_and_platform_stores_device_faults(core, platform):
    core.devices["receipt_printer"].simulator.paper_near_end = True
    heartbeat = Heartbeat.for_core(core)
    heartbeat.start()
    try:
        deadline = time.monotonic() + 15
        while True:
            beat = stored_beat(platform)
            if beat and beat["devices"]["receipt_printer"]["code"] == "paper_near_end":
                break
            assert time.monotonic() < deadline, f"no heartbeat with the paper warning: {beat}"
            time.sleep(0.2)
    finally:
        heartbeat.stop()
    assert heartbeat.last_server_time and heartbeat.last_error == ""
    assert beat["queue"] == {"depth": 0, "dead": 0}


def test_refused_or_unreachable_beat_is_recorded_not_raised(core):
    heartbeat = Heartbeat.for_core(core)
    heartbeat.client = PlatformClient(core.platform.base_url, token="wrong-token")
    assert heartbeat.beat() is False and "re-enrol" in heartbeat.last_error
    heartbeat.client = PlatformClient("http://127.0.0.1:9", token="t", timeout=1)
    assert heartbeat.beat() is False and heartbeat.last_error


def test_intervals_are_jittered_within_bounds():
    heartbeat = Heartbeat(dict, client=None, interval_s=60, jitter=0.2, rng=random.Random(3))
    delays = [heartbeat.next_delay() for _ in range(500)]
    assert min(delays) >= 48 and max(delays) <= 72
    assert max(delays) - min(delays) > 15      # really spread, not a constant
