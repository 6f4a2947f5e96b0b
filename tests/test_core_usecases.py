"""Each resident use case of the core, without a window: KioskCore with the simulated
devices (ID reader with the sample card lying on it, a face camera that blinks, a
document camera showing a page, receipt printer, file-backed licence printer) against
the reference platform on a loopback port.  Every use case answers through a Future
and returns at once."""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from kiosk.samples import SAMPLE_CARD, sample_card

ROOT = Path(__file__).resolve().parent.parent
WAIT_S = 30


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    from central.testing import run_server
    with run_server(tmp_path_factory.mktemp("usecases") / "central.db", kiosk_id="core-kiosk") as platform:
        yield platform


@pytest.fixture(scope="module")
def core(platform, tmp_path_factory):
    from kiosk import config as cfg
    from kiosk.core import KioskCore
    from kiosk.platform import PlatformClient
    tmp = tmp_path_factory.mktemp("core")
    config = cfg.parse(f'[kiosk]\nid = "core-kiosk"\ndata_dir = "{tmp / "var"}"\n'
                       f'[platform]\nurl = "{platform.base_url}"\ntimeout_s = 3.0\n'
                       f"[queue]\nbackoff_base_s = 0.1\nbackoff_cap_s = 0.5\nmin_free_mb = 1\n"
                       f"[heartbeat]\nenabled = false\n"
                       f'[menu]\nbundle = "{ROOT / "assets" / "menus" / "sample.bundle"}"\n', "test.toml", ROOT)
    core = KioskCore(config)
    core.platform = PlatformClient(platform.base_url, token=platform.token, timeout=3.0)
    core.start()
    core.devices["licence_printer"].font_cache = ROOT / "var" / "test-cache" / "fonts"
    yield core
    core.stop()


@pytest.fixture
def resident(core):
    """A session with the sample card read, at the start of 敬老优待证办理."""
    core.begin_session()
    assert core.identify(sample_card()) is None
    prove_presence(core)
    core.start_service(core.menu.service("elderly-card"))
    yield core.session
    core.end_session()


def prove_presence(core) -> None:
    """What 人证核验 gives the session: the platform's presence grant (a simulated-camera face)."""
    import cv2
    from devices.camera_scenes import FaceScene
    frame = cv2.imencode(".jpg", FaceScene().render(1280, 720))[1].tobytes()
    answer = core.platform.verify_identity(core.session.card.to_public_dict(), None, frame)
    assert answer["match"], answer
    core.session.presence_grant = answer["presence_grant"]


def first_event(core, topic: str, start) -> dict:
    """Start something, and wait for the first ``topic`` it publishes."""
    seen, got = [], threading.Event()
    unsubscribe = core.bus.subscribe(topic, lambda event: (seen.append(event.data), got.set()))
    try:
        start()
        assert got.wait(WAIT_S), f"no {topic}"
        return seen[0]
    finally:
        unsubscribe()


def test_identify_keeps_a_valid_card_and_refuses_an_expired_one(core):
    core.begin_session()
    try:
        expired = dataclasses.replace(sample_card(), valid_to=dt.date(2020, 1, 1))
        assert core.identify(expired) == "expired" and core.session.card is None
        assert core.identify(sample_card()) is None and core.session.card.name == "王秀英"
        service = core.menu.service("elderly-card")
        assert core.start_service(service) == "face"     # read already: 身份验证 is skipped
        assert core.next_step() == "form"
    finally:
        core.end_session()
    assert core.transaction is None and core.next_step() is None


def test_face_capture_then_the_platform_verifies_the_face(core, resident):
    done = first_event(core, "face.done", core.start_face_capture)
    core.stop_face_capture()
    assert done["jpeg"][:2] == b"\xff\xd8"
    future = core.verify_face(done["jpeg"])
    assert future.result(WAIT_S) is True
    assert resident.identity_verified and resident.face_image == done["jpeg"]


def test_document_scan_keeps_pages_in_the_session_and_retakes(core, resident):
    first_event(core, "document.captured", lambda: core.start_document_scan("photo"))
    pages = core.record_scanned_pages()
    core.capture_page()
    try:
        assert resident.materials["photo"] == pages and pages[0].exists()
        assert pages[0].is_relative_to(resident.temp_dir) and pages[0].stat().st_mode & 0o077 == 0
        while core.discard_last_page():
            pass
        assert "photo" not in resident.materials and not pages[0].exists()
    finally:
        core.stop_document_scan()
    assert not core.captures.scanning


def test_reusable_materials_come_from_the_platform(core, platform, resident):
    from central.devseed import seed
    seed(platform.store, platform.kiosk_id, "440304", SAMPLE_CARD, current_token=platform.token)
    assert "residence-permit" in core.reusable_materials().result(WAIT_S)


def test_submit_then_print_the_masked_receipt(core, platform, resident):
    resident.form = {"name": "王秀英", "id-number": "440304194905120026", "phone": "13812345678"}
    resident.delivery = {"method": "courier", "address": "广东省深圳市福田区华富街道莲花一村12栋304房",
                         "centre": None}
    result = core.submit_application().result(WAIT_S)
    assert result.status == "submitted" and result.application_no
    assert platform.store.one("SELECT 1 AS x FROM applications WHERE application_no = ?",
                              (result.application_no,))
    printer = core.devices["receipt_printer"].simulator
    before = len(printer.receipts)
    assert core.print_receipt().result(WAIT_S) is None
    assert len(printer.receipts) == before + 1 and resident.application["receipt_printed"] is True
    text = printer.text()
    assert result.application_no in text and "王*英" in text
    for raw in ("王秀英", "440304194905120026", "莲花一村"):
        assert raw not in text


def test_a_receipt_the_printer_cannot_print_is_recorded_not_lost(core, resident):
    resident.delivery = {"method": "onsite_print"}
    result = core.submit_application().result(WAIT_S)
    printer = core.devices["receipt_printer"].simulator
    printer.paper_out = True
    try:
        with pytest.raises(Exception) as failure:
            core.print_receipt().result(WAIT_S)
        assert failure.value.code == "paper_out"
        assert resident.application["receipt_printed"] is False
        assert resident.application["receipt_error"] == "paper_out"
        assert resident.application["application_no"] == result.application_no   # saved anyway
    finally:
        printer.paper_out = False


def test_receipt_data_is_masked_by_the_privacy_rules_in_the_residents_language(core, resident):
    from kiosk.receipts import receipt_data
    from kiosk.workflow import SubmitResult
    resident.language = "zh_TW"
    service = core.transaction.service
    resident.delivery = {"method": "pickup", "centre": service.pickup_centres[0]["zh_CN"], "address": None}
    data = receipt_data(core.config, resident, service, SubmitResult("queued", "abcdef12", "REF-1"))
    assert (data.resident_name, data.id_number) == ("王*英", "440304********0026")
    assert data.language == "zh_TW" and data.centre_name == core.config.centre_name_for("zh_TW")
    assert data.delivery["centre"] == service.pickup_centres[0]["zh_TW"]
    resident.delivery = {"method": "courier", "address": "广东省深圳市福田区华富街道莲花一村12栋304房"}
    data = receipt_data(core.config, resident, service, SubmitResult("queued", "abcdef12", "REF-1"))
    assert data.delivery["address"] == "广东省深圳市福田区华富街道****"


def test_licences_are_listed_printed_once_and_reported(core, platform, resident):
    from central.devseed import seed
    seed(platform.store, platform.kiosk_id, "440304", SAMPLE_CARD, current_token=platform.token)
    documents = core.printable_documents().result(WAIT_S)
    summary = next(d for d in documents if d["title"] == "社会保险参保证明")
    first = core.print_licence(summary).result(120)
    assert first.ok and not first.already_printed
    again = core.print_licence(summary).result(WAIT_S)
    assert again.already_printed
    deadline = time.monotonic() + WAIT_S
    while platform.store.one("SELECT printed_at FROM documents WHERE document_id = ?",
                             (summary["document_id"],))["printed_at"] is None:
        assert time.monotonic() < deadline, "the print was never reported"
        time.sleep(0.1)
    assert all(d["document_id"] != summary["document_id"]
               for d in core.printable_documents().result(WAIT_S))


def test_query_by_card_and_by_number(core, platform, resident):
    from central.devseed import seed
    from kiosk.core import ApplicationNotFound
    seed(platform.store, platform.kiosk_id, "440304", SAMPLE_CARD, current_token=platform.token)
    mine = core.my_applications().result(WAIT_S)
    assert mine and len({a["application_no"] for a in mine}) == len(mine)
    status = core.application_status(mine[0]["application_no"]).result(WAIT_S)
    assert status["status"] in ("accepted", "approved", "rejected")
    with pytest.raises(ApplicationNotFound):
        core.application_status("NO-SUCH-123").result(WAIT_S)


def test_appeal_and_rating(core, platform, resident):
    appeals = platform.count("appeals")
    result = core.file_appeal("complaint", "办事等候时间太长", "13812345678").result(WAIT_S)
    assert result.response["appeal_no"].startswith("SQ") and platform.count("appeals") == appeals + 1
    resident.application = {"application_no": "440304202611220000123"}
    rating = core.rate(5).result(WAIT_S)
    assert rating.item_id


def test_help_is_published_and_answered_through_a_future(core, platform):
    """帮助 reaches the platform (tests/test_help_core.py covers the outage and the acknowledgement)."""
    seen = []
    unsubscribe = core.bus.subscribe("ui.help_requested", seen.append)
    try:
        request_id, state = core.ask_for_help("form").result(WAIT_S)
    finally:
        unsubscribe()
        core.end_help()
    assert seen and seen[0].data["screen"] == "form"
    assert state == "delivered" and platform.store.one(
        "SELECT screen FROM help_requests WHERE request_id = ?", (request_id,))["screen"] == "form"


def test_use_cases_never_block_and_keep_the_core_busy_meanwhile(core, platform, resident):
    """The platform answers after 1.5 s: the call returns at once, and the core reports
    work for the resident until the answer is in (the idle timer holds meanwhile)."""
    platform.set_faults(latency_s=1.5)
    try:
        started = time.monotonic()
        future = core.application_status("NO-SUCH-456")
        assert time.monotonic() - started < 0.2 and core.busy_for_resident
        with pytest.raises(Exception):
            future.result(WAIT_S)
        assert not core.busy_for_resident
    finally:
        platform.set_faults()
