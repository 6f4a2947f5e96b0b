"""Heartbeat history, on SQLite and PostgreSQL: a sample when something changed or every
five minutes (not every beat), silences and queue trends in the fleet list, one kiosk's
timeline, the fleet page, and the history's retention."""
from __future__ import annotations

import time

import pytest
import requests

from central import admin, fleet_page, maintenance
from central.routers import heartbeat as heartbeat_route
from central.testing import run_server
from kiosk.platform import PlatformClient
from tests.test_central_cli import central

MIN = 60.0


@pytest.fixture
def platform(central_db):
    with run_server(central_db.db, pepper_path=central_db.pepper) as running:
        yield running


def beat(platform, token=None, depth=0, dead=0, uptime=100.0, devices=None, kiosk_id=None):
    return PlatformClient(platform.base_url, token or platform.token, timeout=10).heartbeat(
        {"kiosk_id": kiosk_id or platform.kiosk_id, "version": "1.0", "uptime_s": uptime,
         "devices": devices or {}, "queue": {"depth": depth, "dead": dead}})


def samples(platform, kiosk_id=None):
    return platform.store.all("SELECT queue_depth, dead, faults, uptime_s FROM heartbeats WHERE kiosk_id = ? "
                              "ORDER BY received_at", (kiosk_id or platform.kiosk_id,))


def add_samples(store, kiosk_id, rows):
    """(minutes ago, depth, dead, faults, uptime) as history samples."""
    now = time.time()
    with store.write():
        for ago, depth, dead, faults, uptime in rows:
            store.execute("INSERT INTO heartbeats (kiosk_id, received_at, queue_depth, dead, faults, uptime_s) "
                          "VALUES (?, ?, ?, ?, ?, ?)", (kiosk_id, now - ago * MIN, depth, dead, faults, uptime))


def test_a_sample_only_when_something_changed(platform, monkeypatch):
    beat(platform, uptime=100)
    beat(platform, uptime=160)  # nothing new: only the latest beat is updated
    beat(platform, depth=3, uptime=220)
    beat(platform, depth=3, dead=1, uptime=280)
    beat(platform, depth=3, dead=1, uptime=340, devices={"id_reader": {"state": "FAULT", "reason": "SAM"}})
    beat(platform, depth=3, dead=1, uptime=5, devices={"id_reader": {"state": "FAULT", "reason": "SAM"}})  # restart
    assert [(s["queue_depth"], s["dead"], s["faults"], s["uptime_s"]) for s in samples(platform)] == [
        (0, 0, 0, 100), (3, 0, 0, 220), (3, 1, 0, 280), (3, 1, 1, 340), (3, 1, 1, 5)]
    monkeypatch.setattr(heartbeat_route, "HISTORY_EVERY_S", 0.0)  # the sampling period has passed
    beat(platform, depth=3, dead=1, uptime=65, devices={"id_reader": {"state": "FAULT", "reason": "SAM"}})
    assert len(samples(platform)) == 6
    latest = platform.store.one("SELECT last_heartbeat FROM kiosks WHERE kiosk_id = ?", (platform.kiosk_id,))
    assert '"uptime_s": 65' in latest["last_heartbeat"]  # the latest beat, every time


def test_huge_counts_are_kept_in_range(platform):
    assert beat(platform, depth=10**30, dead=10**20)["server_time"]
    [sample] = samples(platform)
    assert sample["queue_depth"] == sample["dead"] == 2**31 - 1


def test_fleet_shows_silences_and_queue_trend(platform):
    store = platform.store
    every_5_min = [(ago, 0 if ago > 600 else 5, 0 if ago > 600 else 1, 0, 1e5 - ago)
                   for ago in range(25 * 60, 0, -5)       # the first hour is before the 24 h window
                   if not 160 < ago < 200 and not 900 < ago < 1100]  # silent for 40 min, and 200 min
    add_samples(store, platform.kiosk_id, [(26 * 60, 9, 9, 0, 1.0)] + every_5_min)
    beat(platform, depth=12, dead=2, uptime=1e5)
    [health] = admin.fleet(store)
    assert (health.queue_then, health.queue_depth, health.dead_then, health.dead) == (0, 12, 0, 2)
    assert [int((end - start) // MIN) for start, end in health.silences] == [200, 40]
    note = health.history_note()
    assert note.startswith("queue 0→12; dead 0→2; silent 2× (last ") and note.endswith(", 40 min)")
    later = {k.kiosk_id: k for k in admin.fleet(store, now=time.time() + 3600)}[platform.kiosk_id]
    assert any(p.startswith("silent for 60 min (since ") for p in later.problems)


def test_one_kiosks_timeline(platform, central_db):
    add_samples(platform.store, platform.kiosk_id, [(300, 0, 0, 0, 3600.0), (295, 0, 0, 0, 3900.0),
                                                    (290, 4, 0, 0, 4200.0), (200, 4, 0, 0, 60.0),
                                                    (195, 4, 0, 0, 360.0), (100, 0, 0, 1, 6000.0)])
    events = admin.kiosk_history(platform.store, platform.kiosk_id)
    assert [e.note for e in events] == ["first", "changed", "back after 90 min silent, restarted",
                                        "back after 95 min silent, changed, latest"]
    shown = central(central_db, "kiosks", platform.kiosk_id)
    assert shown.returncode == 0 and "back after 90 min silent, restarted" in shown.stdout
    assert "   1h00m  first" in shown.stdout
    missing = central(central_db, "kiosks", "no-such-kiosk")
    assert missing.returncode == 2 and "no kiosk no-such-kiosk" in missing.stderr


def test_fleet_list_and_page_show_the_last_24_hours(platform, central_db):
    add_samples(platform.store, platform.kiosk_id, [(10, 1, 0, 0, 10.0)])
    beat(platform, depth=7, uptime=99999)
    listing = central(central_db, "kiosks").stdout.splitlines()
    assert listing[1].startswith(platform.kiosk_id) and listing[2].strip() == "└ last 24 h: queue 1→7"
    page = requests.get(platform.base_url + "/admin/fleet", auth=("admin", platform.admin_token), timeout=10)
    assert '<td class="history">queue 1→7</td>' in page.text
    assert fleet_page.render(platform.store).count('class="history"') == 1


def test_history_is_kept_for_its_retention(platform, central_db):
    add_samples(platform.store, platform.kiosk_id, [(4 * 1440, 0, 0, 0, 1.0), (2 * 1440, 0, 0, 0, 2.0)])
    other = admin.issue_kiosk_token(platform.store, "k-other")
    beat(platform, token=other, kiosk_id="k-other")
    add_samples(platform.store, "k-other", [(5 * 1440, 0, 0, 0, 1.0)])
    assert maintenance.run(platform.store)["heartbeats"] == 2  # 3 days by default
    assert len(samples(platform)) == 1 and len(samples(platform, "k-other")) == 1
    once = central(central_db, "maintenance", "--heartbeat-retention", "1d")
    assert once.returncode == 0 and "removed 1 heartbeat sample(s) older than 1 days" in once.stdout
    assert samples(platform) == [] and len(samples(platform, "k-other")) == 1  # the beat just sent
