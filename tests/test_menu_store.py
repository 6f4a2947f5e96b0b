"""MenuStore: install on disk, fall back to the last good copy, switch only between residents,
and poll the reference platform with ETags."""
from __future__ import annotations

import base64
import datetime as dt
import json
import random
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.events import EventBus
from central.admin import publish_menu
from central.testing import run_server
from kiosk import config as cfg
from kiosk.config import ConfigError
from kiosk.core import KioskCore
from kiosk.menu_bundle import canonical_payload, public_raw, sign_payload
from kiosk.menu_store import MenuStore
from kiosk.platform import PlatformClient

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assets" / "menus" / "sample.json"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone.utc)
KEY = Ed25519PrivateKey.generate()
PUB = base64.b64encode(public_raw(KEY.public_key())).decode()


def bundle(version: int, expires: str = "2027-11-01T00:00:00+08:00") -> bytes:
    doc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    doc.update(version=version, expires=expires)
    doc["categories"][0]["names"]["en"] = f"Personal services v{version}"
    return sign_payload(canonical_payload(doc), KEY)


def make_store(tmp_path, seed: Path | None = None, extra: str = "", now=NOW, bus=None) -> MenuStore:
    text = (f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\n{extra}'
            f'[menu]\npubkeys = ["{PUB}"]\nbundle = "{seed or tmp_path / "no-seed.bundle"}"\npoll_interval_s = 100\n')
    return MenuStore(cfg.parse(text), bus or EventBus(), now=lambda: now, rng=random.Random(7))


def test_first_start_uses_the_bundle_shipped_with_the_software(tmp_path):
    seed = tmp_path / "seed.bundle"
    seed.write_bytes(bundle(1))
    store = make_store(tmp_path, seed)
    assert store.load().version == 1
    assert store.status()["version"] == 1 and not store.stale


def test_no_menu_at_all_is_reported_not_fatal(tmp_path):
    bus = EventBus()
    seen = []
    bus.subscribe("menu.", seen.append)
    store = make_store(tmp_path, bus=bus)
    assert store.load() is None and store.menu is None
    assert [e.topic for e in seen] == ["menu.unavailable"]


def test_install_keeps_the_previous_bundle_and_survives_a_damaged_current(tmp_path):
    store = make_store(tmp_path)
    store.load()
    store.offer(bundle(3), etag='"v3"')
    store.offer(bundle(4), etag='"v4"')
    menus = store.dir
    assert (menus / "current.bundle").read_bytes() == bundle(4)
    assert (menus / "previous.bundle").read_bytes() == bundle(3)
    assert json.loads((menus / "state.json").read_text())["etag"] == '"v4"'
    assert not [p for p in menus.iterdir() if p.name.endswith(".tmp")]
    # the disk damages current.bundle: the next start runs on the last good one
    (menus / "current.bundle").write_bytes(b"\x00" * 100)
    restarted = make_store(tmp_path)
    assert restarted.load().version == 3
    # the high-water mark survived: v3 again is a rollback, but v4 (the same bundle) may come back
    assert restarted.offer(bundle(4)) == "installed"
    assert restarted.menu.version == 4


def test_power_cut_between_the_two_renames_still_leaves_a_menu(tmp_path):
    store = make_store(tmp_path)
    store.load()
    store.offer(bundle(5))
    (store.dir / "current.bundle").rename(store.dir / "previous.bundle")  # state right after the first rename
    assert make_store(tmp_path).load().version == 5


def test_a_new_menu_waits_for_the_resident_to_finish(tmp_path):
    bus = EventBus()
    changes = []
    bus.subscribe("menu.changed", lambda e: changes.append(e.data["version"]))
    store = make_store(tmp_path, bus=bus)
    store.load()
    store.offer(bundle(1))
    bus.publish("session.started")
    assert store.offer(bundle(2)) == "pending"
    assert store.menu.version == 1 and store.status()["pending_version"] == 2
    assert (store.dir / "current.bundle").read_bytes() == bundle(2)  # installed on disk already
    bus.publish("session.ended")
    assert store.menu.version == 2 and store.pending is None
    assert changes == [1, 2]


def test_kiosk_core_switches_menus_in_end_session(tmp_path, monkeypatch):
    text = (f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\n'
            f'[menu]\npubkeys = ["{PUB}"]\nbundle = "{tmp_path / "none"}"\n')
    core = KioskCore(cfg.parse(text))
    core.menus.load()
    core.menus.offer(bundle(1))
    core.begin_session()
    core.menus.offer(bundle(2))
    assert core.menu.version == 1
    core.end_session()
    assert core.menu.version == 2


def test_an_expired_installed_menu_is_still_shown_but_flagged(tmp_path):
    bus = EventBus()
    topics = []
    bus.subscribe("menu.", lambda e: topics.append(e.topic))
    store = make_store(tmp_path)
    store.load()
    store.offer(bundle(2, expires="2026-12-01T00:00:00+08:00"))
    later = make_store(tmp_path, now=dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc), bus=bus)
    assert later.load().version == 2
    assert later.stale and "menu.stale" in topics


def test_production_kiosk_refuses_the_dev_key(tmp_path, caplog):
    dev = (ROOT / "assets" / "menus" / "dev" / "dev-menu.pub").read_text().strip()
    text = (f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\nprofile = "production"\n'
            f'[menu]\npubkeys = ["{dev}"]\n')
    store = MenuStore(cfg.parse(text), EventBus())
    assert store.keys == {}
    assert store.load() is None  # the shipped sample is dev-signed: production needs its platform's menu
    assert "DEV ONLY" in caplog.text


def test_poll_interval_is_jittered(tmp_path):
    store = make_store(tmp_path)
    delays = [store.next_delay() for _ in range(200)]
    assert 80 <= min(delays) < max(delays) <= 120
    assert len({round(d, 3) for d in delays}) > 150
    assert store.next_delay(retry_after=500) == 500


def test_poller_against_the_reference_platform(tmp_path):
    with run_server(tmp_path / "central.db") as platform:
        client = PlatformClient(platform.base_url, platform.token)
        store = make_store(tmp_path)
        store.load()
        assert store.poll_once(client) == "none_published"
        publish_menu(platform.store, bundle(1))
        assert store.poll_once(client) == "installed" and store.menu.version == 1
        assert store.poll_once(client) == "not_modified"      # If-None-Match -> 304
        publish_menu(platform.store, bundle(1, expires="2026-11-02T00:00:00+08:00")[:-40] + b"}")
        assert store.poll_once(client) == "rejected" and store.menu.version == 1
        assert store.poll_once(client) == "not_modified"      # the same bad bundle is not fetched again
        publish_menu(platform.store, bundle(2))
        assert store.poll_once(client) == "installed" and store.menu.version == 2
        # a restart remembers the ETag of what it installed
        restarted = make_store(tmp_path)
        restarted.load()
        assert restarted.poll_once(client) == "not_modified"


def test_poller_thread_installs_and_stops(tmp_path):
    with run_server(tmp_path / "central.db") as platform:
        publish_menu(platform.store, bundle(3))
        bus = EventBus()
        installed = threading.Event()
        bus.subscribe("menu.changed", lambda e: e.data["version"] == 3 and installed.set())
        store = make_store(tmp_path, bus=bus)
        store.load()
        store._rng = random.Random(0)
        store.interval_s = 0.05  # first poll at once in the test
        store.start_polling(PlatformClient(platform.base_url, platform.token))
        try:
            assert installed.wait(10)
        finally:
            store.stop()
        assert store.menu.version == 3 and store._poller is None


def test_a_disk_that_refuses_the_write_keeps_the_active_menu(tmp_path, monkeypatch):
    store = make_store(tmp_path)
    store.load()
    store.offer(bundle(1))

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("common.files.tempfile.mkstemp", full_disk)
    assert store.offer(bundle(2)) == "install_failed"
    assert store.menu.version == 1
    assert (store.dir / "current.bundle").read_bytes() == bundle(1)
    monkeypatch.undo()
    assert store.offer(bundle(2)) == "installed"  # high-water mark was not advanced by the failure


def test_a_bad_pinned_key_is_a_one_line_config_error(tmp_path):
    text = f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\n[menu]\npubkeys = ["not-a-key"]\n'
    with pytest.raises(ConfigError, match=r"^test.toml: \[menu\] pubkeys: not an Ed25519 public key"):
        MenuStore(cfg.parse(text, source="test.toml"), EventBus())


def test_no_published_menu_is_logged_once_per_change_not_per_poll(tmp_path, caplog):
    """Issue 18: every poll against a platform with no published menu logged a WARNING."""
    import logging
    caplog.set_level(logging.INFO)
    with run_server(tmp_path / "central.db") as platform:
        client = PlatformClient(platform.base_url, platform.token)
        store = make_store(tmp_path)
        store.load()
        caplog.clear()
        for _ in range(5):
            assert store.poll_once(client) == "none_published"
        kiosk_warnings = [r for r in caplog.records if r.name.startswith("kiosk") and r.levelno >= logging.WARNING]
        assert [r.getMessage() for r in kiosk_warnings] == [
            "menu: the platform has no published menu; keeping version none"]
        publish_menu(platform.store, bundle(1))
        assert store.poll_once(client) == "installed"
        assert any(r.getMessage() == "menu: the platform publishes a menu again" for r in caplog.records)


def test_the_active_menu_leaves_a_glance_for_the_next_start(tmp_path):
    """Issue 18: the home screen's first frame draws the categories from the glance of the
    last verified menu; the pinyin index is built after, not before the menu is shown."""
    from kiosk import menu_glance
    store = make_store(tmp_path, seed=tmp_path / "seed.bundle")
    (tmp_path / "seed.bundle").write_bytes(bundle(4))
    store.load()
    glance = menu_glance.load(tmp_path / "var")
    assert glance.version == 4
    assert [c.name("en") for c in glance.categories] == [c.name("en") for c in store.menu.categories]
    assert [s.name() for s in glance.categories[0].services] == [s.name() for s in store.menu.categories[0].services]
    assert store.menu.search("jl")[0].name() == "敬老优待证办理"      # the index, built lazily or in the background
    store.offer(bundle(5))
    assert menu_glance.load(tmp_path / "var").categories[0].name("en") == "Personal services v5"
    menu_glance.glance_path(tmp_path / "var").write_text("{not json")
    assert menu_glance.load(tmp_path / "var") is None                 # unreadable: tiles wait for the core
