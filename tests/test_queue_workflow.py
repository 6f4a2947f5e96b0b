"""The submit workflow end to end: KioskCore with its outbox and sender, the
reference platform on loopback.  An application made while the platform is
down is saved (status "queued", 已保存，联网后自动提交), delivered once when it
comes back, with its rating behind it; an online one is submitted at once."""
from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from central.admin import issue_kiosk_token
from central.app import create_app
from central.faults import FaultInjector
from central.storage import Store
from central.testing import ServerThread
from devices.idcard.card import card_from_dict
from devices.registry import DRIVERS
from kiosk.core import KioskCore
from kiosk.platform import PlatformClient
from kiosk.workflow import QUEUED, SUBMITTED, report_prints, submit_application, submit_appeal, submit_rating

ROOT = Path(__file__).resolve().parent.parent
SERVICE = {"id": "elderly-card", "names": {"zh_CN": "敬老优待证办理", "en": "Senior citizen card"},
           "promised_days": 5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def kiosk(make_config, tmp_path):
    """A started core (devices disabled) whose platform URL points at a closed port."""
    port = free_port()
    devices = "".join(f"[devices.{role}]\nenabled = false\n" for role in DRIVERS)
    config = make_config(f'[kiosk]\nid = "wf-kiosk"\ndata_dir = "{tmp_path / "var"}"\n'
                         f'[platform]\nurl = "http://127.0.0.1:{port}"\ntimeout_s = 2.0\n'
                         f"[queue]\nbackoff_base_s = 0.05\nbackoff_cap_s = 0.3\nmin_free_mb = 1\n{devices}")
    store = Store(tmp_path / "central.db")
    core = KioskCore(config)
    core.platform = PlatformClient(config.platform.url, token=issue_kiosk_token(store, "wf-kiosk"), timeout=2.0)
    events = []
    core.bus.subscribe("queue.", lambda e: events.append((e.topic, dict(e.data))))
    core.start()
    server = None

    def start_platform():
        nonlocal server
        server = ServerThread(create_app(store, FaultInjector()), port=port).start()

    try:
        yield core, store, start_platform, events
    finally:
        core.stop()
        if server is not None:
            server.stop()
        store.close()


def resident_session(core):
    session = core.begin_session()
    session.set_card(card_from_dict(json.loads((ROOT / "assets/cards/resident_elderly.json").read_text())))
    session.form = {"phone": "13812345678"}
    session.delivery = {"method": "pickup"}
    scan = session.temp_dir / "id-front.jpg"
    scan.write_bytes((ROOT / "assets/samples/document_on_desk.jpg").read_bytes())
    session.materials = {"id-card": [scan]}
    session.signature = session.temp_dir / "signature.png"
    session.signature.write_bytes(b"\x89PNG\r\n\x1a\n-signature-strokes")
    return session, scan.read_bytes()


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_application_made_offline_is_queued_then_delivered_exactly_once(kiosk):
    core, store, start_platform, events = kiosk
    session, scan = resident_session(core)
    started = time.monotonic()
    result = submit_application(core, session, SERVICE, wait_s=0.5)
    assert time.monotonic() - started < 3.0
    assert result.status == QUEUED and result.application_no is None
    assert result.receipt["note"]["zh_CN"] == "已保存，联网后自动提交"
    assert result.reference.startswith("wf-kiosk-") and result.receipt["reference"] == result.reference
    assert result.receipt["service_name"] == "敬老优待证办理" and result.receipt["promised_days"] == 5
    assert session.application["status"] == QUEUED
    rating = submit_rating(core, result, 5, "很方便", service_id="elderly-card")
    assert rating.status == QUEUED
    wait_until(lambda: ("queue.connectivity", {"state": "offline"}) in events)
    core.end_session()  # the resident leaves; the queue holds its own encrypted copy of the scan

    start_platform()
    wait_until(lambda: core.outbox.stats(include_done=True) == {"depth": 0, "dead": 0, "done": 2})
    apps = store.all("SELECT application_no, idem_key FROM applications")
    assert len(apps) == 1 and apps[0]["idem_key"] == result.item_id
    number = apps[0]["application_no"]
    assert store.record("applications", number)["form"] == {"phone": "13812345678"}
    assert core.outbox.get(result.item_id).application_no == number
    assert store.one("SELECT application_no FROM ratings")["application_no"] == number
    assert store.one("SELECT COUNT(*) AS n FROM material_pages")["n"] == 2  # the scan and the signature
    assert {r["kind"] for r in store.all("SELECT kind FROM materials")} == {"id-card", "signature"}
    assert not (core.outbox.attachments_dir / result.item_id).exists()
    assert ("queue.connectivity", {"state": "online"}) in events
    assert core.outbox._db.execute("SELECT COUNT(*) FROM items WHERE payload IS NOT NULL").fetchone()[0] == 0


def test_the_offline_flag_follows_the_known_connectivity(kiosk):
    core, store, start_platform, events = kiosk
    first, _ = resident_session(core)
    submit_application(core, first, SERVICE, wait_s=0.0)  # nothing known yet: optimistic
    wait_until(lambda: core.sender.connectivity == "offline")
    second, _ = resident_session(core)
    result = submit_application(core, second, SERVICE, wait_s=0.0)
    start_platform()
    wait_until(lambda: core.outbox.stats()["depth"] == 0)
    flags = {r["idem_key"]: r["offline"] for r in store.all("SELECT idem_key, offline FROM applications")}
    assert len(flags) == 2 and flags[result.item_id] == 1 and sorted(flags.values()) == [0, 1]


def test_application_made_online_is_submitted_within_the_wait(kiosk):
    core, store, start_platform, _ = kiosk
    start_platform()
    session, _ = resident_session(core)
    result = submit_application(core, session, SERVICE)
    assert result.status == SUBMITTED and result.application_no
    assert result.receipt["application_no"] == result.application_no
    assert result.receipt["note"]["zh_CN"] == "已提交"
    assert result.receipt["expected_completion"]
    appeal = submit_appeal(core, "suggestion", "希望增加周末服务时间")
    assert appeal.status == SUBMITTED and appeal.response["appeal_no"].startswith("SQ")
    assert store.one("SELECT COUNT(*) AS n FROM applications")["n"] == 1


def test_submitting_never_blocks_longer_than_the_wait(kiosk):
    core, _, _, _ = kiosk
    session, _ = resident_session(core)
    done = threading.Event()
    threading.Thread(target=lambda: (submit_application(core, session, SERVICE, wait_s=0.3), done.set()),
                     daemon=True).start()
    assert done.wait(2.0)


@pytest.fixture
def kiosk_with_licence_printer(make_config, tmp_path):
    """A started core whose licence printer (file backend) shares the reference platform."""
    store = Store(tmp_path / "central.db")
    port = free_port()
    server = ServerThread(create_app(store, FaultInjector()), port=port).start()
    base_url = f"http://127.0.0.1:{port}"
    devices = "".join(f"[devices.{role}]\nenabled = false\n" for role in DRIVERS if role != "licence_printer")
    config = make_config(f'[kiosk]\nid = "wf-kiosk"\ndata_dir = "{tmp_path / "var"}"\n'
                         f'[platform]\nurl = "{base_url}"\ntimeout_s = 2.0\n'
                         f"[queue]\nbackoff_base_s = 0.05\nbackoff_cap_s = 0.3\nmin_free_mb = 1\n"
                         f'{devices}[devices.licence_printer]\ndriver = "file"\n')
    core = KioskCore(config)
    core.platform = PlatformClient(base_url, token=issue_kiosk_token(store, "wf-kiosk"), timeout=2.0)
    core.start()
    try:
        yield core, store
    finally:
        core.stop()
        server.stop()
        store.close()


def test_settled_licence_prints_are_reported_to_the_platform_once(kiosk_with_licence_printer):
    core, store = kiosk_with_licence_printer
    session, _ = resident_session(core)
    result = submit_application(core, session, {"id": "birth-registration", "names": {"zh_CN": "生育登记"}})
    assert result.status == SUBMITTED
    doc = result.response["documents"][0]
    journal = core.devices["licence_printer"].journal
    journal.record_intent(doc["print_token"], doc["document_id"], "生育登记服务单")
    assert report_prints(core) == 0              # not settled yet: nothing to say
    journal.complete(doc["print_token"])
    assert report_prints(core) == 1
    wait_until(lambda: store.one("SELECT printed_at FROM documents WHERE document_id = ?",
                                 (doc["document_id"],))["printed_at"] is not None)
    assert report_prints(core) == 0              # reported once
    # A crash after queueing but before mark_reported: the same report is queued again
    # under the same item id, so the outbox and the platform see one report.
    with journal._lock:
        journal._db.execute("UPDATE print_jobs SET reported = 0")
    assert report_prints(core) == 1
    wait_until(lambda: core.outbox.stats(include_done=True)["depth"] == 0)
    assert core.outbox.stats(include_done=True)["dead"] == 0
