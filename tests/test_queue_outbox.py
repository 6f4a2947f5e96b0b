"""The outbox: durability rules, encryption at rest, purge on ack, FIFO with
dependencies, crash recovery, the disk guard and the technician CLI."""
from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import stat
from collections import namedtuple

import pytest

from offline_queue import outbox as outbox_mod
from offline_queue.crypto import QueueKeyError, Sealer, key_path, load_or_create_key
from offline_queue.outbox import Outbox, QueueFullError, QueueItemError

SECRET = "李小龙-440304199001011234"


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def box(tmp_path, key):
    ob = Outbox(tmp_path / "queue" / "outbox.sqlite3", Sealer(key), min_free_mb=1)
    yield ob
    ob.close()


def test_payload_and_scans_are_encrypted_at_rest_and_come_back_whole(box, tmp_path):
    scan = b"\xff\xd8JPEG-" + SECRET.encode() * 10
    item_id = box.enqueue("application", {"service_id": "s1", "applicant": {"name": SECRET}, "materials": []},
                          attachments=[("m1", scan), ("m1", b"page-2"), ("m2", b"other")])
    raw = b"".join(p.read_bytes() for p in (tmp_path / "queue").rglob("*") if p.is_file())
    assert SECRET.encode() not in raw and b"JPEG-" not in raw
    item, _ = box.next_ready()
    assert item.id == item_id and item.kind == "application"
    payload = box.request_payload(item)
    assert payload["applicant"]["name"] == SECRET
    assert [m["id"] for m in payload["materials"]] == ["m1", "m2"]
    first = payload["materials"][0]["pages"][0]
    assert base64.b64decode(first["content_b64"]) == scan
    assert first["sha256"] == hashlib.sha256(scan).hexdigest()
    assert stat.S_IMODE((tmp_path / "queue").stat().st_mode) == 0o700


def test_wal_and_synchronous_full(box):
    assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    item_id = box.enqueue("appeal", {"text": "x"})
    assert box._book.execute("PRAGMA synchronous").fetchone()[0] == 1  # the sender's bookkeeping: NORMAL
    box.mark_sending(item_id)
    box.mark_done(item_id)
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # enqueues stay FULL


def test_acknowledged_item_is_purged_to_a_tombstone(box, tmp_path):
    item_id = box.enqueue("application", {"applicant": {"name": SECRET}}, attachments=[("m1", b"scan")])
    box.mark_sending(item_id)
    box.mark_done(item_id, "FT2026-000123")
    row = box._db.execute("SELECT payload, state, application_no, acked_at FROM items WHERE id = ?",
                          (item_id,)).fetchone()
    assert row[0] is None and row[1] == "done" and row[2] == "FT2026-000123" and row[3]
    assert not (tmp_path / "queue" / "attachments" / item_id).exists()
    assert box.stats(include_done=True) == {"depth": 0, "dead": 0, "done": 1}
    with pytest.raises(QueueItemError):
        box.request_payload(box.get(item_id))


def test_fifo_per_kind_and_a_rating_waits_for_its_application(box):
    app1 = box.enqueue("application", {"n": 1})
    app2 = box.enqueue("application", {"n": 2})
    rating = box.enqueue("rating", {"level": 5, "comment": ""}, depends_on=app2)
    appeal = box.enqueue("appeal", {"category": "建议", "text": "多装几台"})
    assert box.next_ready()[0].id == app1
    box.mark_retry(app1, "503", box._clock() + 60)
    # app1 waits, so app2 behind it waits (FIFO) and the rating waits for app2;
    # only the appeal may go.
    assert box.next_ready()[0].id == appeal
    box.mark_done(appeal)
    assert box.next_ready()[0] is None
    order = []
    for _ in range(3):
        item, _ = box.next_ready(now=box._clock() + 61)
        order.append(item.id)
        box.mark_done(item.id, "NO-1" if item.kind == "application" else None)
    assert order == [app1, app2, rating]
    assert box.next_ready() == (None, None)


def test_a_help_request_leaves_before_any_backlog(box):
    backlog = [box.enqueue("application", {"n": n}) for n in range(3)]
    appeal = box.enqueue("appeal", {"category": "help", "text": "?"})
    help_request = box.enqueue("help", {"request_id": "r", "screen": "home"})
    assert box.next_ready()[0].id == help_request  # a resident waiting for a person
    box.mark_done(help_request)
    assert [box.next_ready()[0].id for _ in range(1)] == [backlog[0]]
    for item_id in backlog:
        box.mark_done(item_id, "NO")
    assert box.next_ready()[0].id == appeal


def test_dependency_fills_in_the_application_number(box):
    app = box.enqueue("application", {"n": 1})
    rating = box.enqueue("rating", {"level": 4}, depends_on=app)
    box.mark_done(app, "FT-42")
    item, _ = box.next_ready()
    assert item.id == rating
    assert box.request_payload(item) == {"level": 4, "application_no": "FT-42"}


def test_refused_dependency_makes_the_dependant_a_dead_letter(box):
    app = box.enqueue("application", {"n": 1})
    rating = box.enqueue("rating", {"level": 1}, depends_on=app)
    box.mark_dead(app, "422: form.phone invalid")
    assert box.next_ready() == (None, None)
    assert box.get(rating).state == "dead"


def test_backoff_time_is_respected(box):
    item_id = box.enqueue("appeal", {"text": "x"})
    box.mark_retry(item_id, "503", next_attempt_at=box._clock() + 60)
    item, due = box.next_ready()
    assert item is None and due > box._clock() + 50
    assert box.next_ready(now=due)[0].id == item_id


def test_restart_recovers_sending_items_and_removes_orphan_scans(tmp_path, key):
    db = tmp_path / "q" / "outbox.sqlite3"
    first = Outbox(db, Sealer(key), min_free_mb=1)
    item_id = first.enqueue("application", {"n": 1}, attachments=[("m", b"scan")])
    first.mark_sending(item_id)
    orphan = first.attachments_dir / "never-committed"
    orphan.mkdir()
    (orphan / "0.bin").write_bytes(b"x")
    first._db.close()  # as if the process died here
    second = Outbox(db, Sealer(key), min_free_mb=1)
    assert second.get(item_id).state == "pending"
    assert not orphan.exists()
    assert (second.attachments_dir / item_id / "0.bin").exists()
    second.close()


def test_old_tombstones_are_pruned_at_start(tmp_path, key):
    db = tmp_path / "q" / "outbox.sqlite3"
    now = [1_000_000.0]
    ob = Outbox(db, Sealer(key), min_free_mb=1, clock=lambda: now[0])
    old, waiting = ob.enqueue("appeal", {"text": "a"}), ob.enqueue("appeal", {"text": "b"})
    ob.mark_done(old, None)
    ob.close()
    now[0] += (outbox_mod.TOMBSTONE_DAYS + 1) * 86400
    ob = Outbox(db, Sealer(key), min_free_mb=1, clock=lambda: now[0])
    assert [i.id for i in ob.items(("pending", "done"))] == [waiting]
    ob.close()


def test_housekeeping_prunes_old_tombstones_and_vacuums_while_running(tmp_path, key):
    """Issue 18: a kiosk runs for weeks; tombstones were pruned only at start and the file
    never gave back the pages of purged payloads."""
    db = tmp_path / "q" / "outbox.sqlite3"
    now = [1_000_000.0]
    ob = Outbox(db, Sealer(key), min_free_mb=1, clock=lambda: now[0])
    try:
        bulky = {"text": base64.b64encode(os.urandom(15_000)).decode()}   # incompressible
        ids = [ob.enqueue("appeal", bulky) for _ in range(100)]
        for item_id in ids:
            ob.mark_sending(item_id)
            ob.mark_done(item_id, None)
        ob.empty_wal()
        full = db.stat().st_size
        assert ob.housekeep() == {"tombstones": 0, "vacuumed": True}   # payloads purged: mostly free pages
        ob.empty_wal()
        assert db.stat().st_size < full / 4
        waiting = ob.enqueue("appeal", {"text": "b"})
        now[0] += (outbox_mod.TOMBSTONE_DAYS + 1) * 86400
        assert ob.housekeep()["tombstones"] == 100
        assert [i.id for i in ob.items(("pending", "done"))] == [waiting]
        assert ob.housekeep() == {"tombstones": 0, "vacuumed": False}
    finally:
        ob.close()


def test_wrong_key_is_a_clear_error(tmp_path, key):
    db = tmp_path / "q" / "outbox.sqlite3"
    ob = Outbox(db, Sealer(key), min_free_mb=1)
    ob.enqueue("appeal", {"text": "x"})
    other = Outbox(db, Sealer(os.urandom(32)), min_free_mb=1)
    with pytest.raises(QueueKeyError, match="does not decrypt"):
        other.request_payload(other.next_ready()[0])
    ob.close()
    other.close()


def test_key_file_is_created_0600_in_dev_and_required_in_production(tmp_path, make_config):
    config = make_config("")
    path = key_path(config)
    key = load_or_create_key(path, create=True)
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path, create=False) == key
    with pytest.raises(QueueKeyError, match="provisioning"):
        load_or_create_key(tmp_path / "absent.key", create=False)
    (tmp_path / "short.key").write_bytes(b"abc")
    os.chmod(tmp_path / "short.key", 0o600)  # a readable one is refused before its length is looked at
    with pytest.raises(QueueKeyError, match="3 bytes"):
        load_or_create_key(tmp_path / "short.key", create=False)


def test_disk_guard_refuses_new_items_and_keeps_nothing_half_written(box, monkeypatch):
    kept = box.enqueue("appeal", {"text": "before"})
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(outbox_mod.shutil, "disk_usage", lambda p: Usage(10**9, 10**9, 512 * 1024))
    monkeypatch.setattr(box, "_free_checked_at", -1e9)  # as if the last look at the disk were long ago
    with pytest.raises(QueueFullError, match="min_free_mb"):
        box.enqueue("application", {"n": 1}, attachments=[("m", b"scan")])
    assert box.stats()["depth"] == 1 and os.listdir(box.attachments_dir) == []
    assert box.get(kept).state == "pending"


def test_a_really_full_database_is_refused_not_corrupted(box):
    """SQLITE_FULL (here from max_page_count) must surface as QueueFullError
    and leave the database intact with every earlier item."""
    box._db.execute(f"PRAGMA max_page_count = {box._db.execute('PRAGMA page_count').fetchone()[0] + 2}")
    stored = []
    with pytest.raises(QueueFullError, match="disk is full"):
        for n in range(1000):
            stored.append(box.enqueue("application", {"blob": "x" * 2000, "n": n},
                                      attachments=[("m", b"scan")]))
    assert box._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert box.stats()["depth"] == len(stored) > 0
    assert sorted(os.listdir(box.attachments_dir)) == sorted(stored)
    box.mark_done(stored[0], "FT-1")  # still writable for acknowledgements


def test_cli_lists_without_personal_data_and_retries_and_purges(make_config, capsys):
    from kiosk.cli import main
    config = make_config("")
    ob = Outbox.from_config(config)
    live = ob.enqueue("application", {"applicant": {"name": SECRET}})
    dead = ob.enqueue("appeal", {"text": SECRET})
    ob.mark_dead(dead, "422: text too long")
    ob.close()
    key_path(config).rename(key_path(config).with_suffix(".away"))  # kioskctl never needs the key
    cfg = str(config.source)
    assert main(["--config", cfg, "queue", "list"]) == 0
    out = capsys.readouterr().out
    assert live in out and dead in out and "422: text too long" in out and SECRET not in out
    assert "waiting 1, dead letters 1" in out
    assert main(["--config", cfg, "queue", "purge", live[:8]]) == 1
    assert "only dead letters" in capsys.readouterr().err
    assert main(["--config", cfg, "queue", "retry", dead[:8]]) == 0
    assert main(["--config", cfg, "queue", "list", "--json"]) == 0
    assert '"dead": 0' in capsys.readouterr().out
    key_path(config).with_suffix(".away").rename(key_path(config))
    ob = Outbox.from_config(config)
    ob.mark_dead(dead, "422 again")
    ob.close()
    assert main(["--config", cfg, "queue", "purge", dead]) == 0
    assert main(["--config", cfg, "queue", "retry", "nonexistent"]) == 1
    assert "no queue item" in capsys.readouterr().err
