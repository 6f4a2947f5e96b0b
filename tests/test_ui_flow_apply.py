"""The resident's transaction flow, driven like a resident on the real app.

One KioskApp per module (simulated ID reader, cameras, receipt printer, the
file-backed licence printer) against the reference platform on a loopback
port.  Screens are operated with touch events on their buttons; the card is
placed on the simulated SAM reader; the simulated face camera blinks and the
simulated document camera shows a page, so face capture, identity check and
auto-capture run through their real code.

Runs under Xvfb (``make test``); never with KIVY_GL_BACKEND=mock.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ui_driver import app_on_the_reference_platform, current, drag, on_screen, press_digits, pump_for, tap, until

ROOT = Path(__file__).resolve().parent.parent
CARD = ROOT / "assets" / "cards" / "resident_elderly.json"


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kiosk(tmp_path_factory):
    """(app, platform): the app built and started, the reference platform serving it."""
    with app_on_the_reference_platform(tmp_path_factory.mktemp("flow"), "flow-kiosk", debug_logs=True) as pair:
        yield pair


@pytest.fixture
def app(kiosk):
    return kiosk[0]


def start_service(app, service_id: str) -> None:
    """Home → guide → 开始办理, as a resident taps through."""
    service = app.menu.service(service_id)
    category = next(c for c in app.menu.categories if service in c.services)
    app.begin_session()
    app.show("category", category_id=category.id)
    app.show("guide", service_id=service_id)
    on_screen(app, "guide")
    tap(current(app).ids.start)


def read_card(app) -> None:
    """The resident lays the card on the reader (the simulator starts with one lying there)."""
    on_screen(app, "identify")
    reader = app.core.devices["id_reader"]
    removed = []
    unsubscribe = app.core.bus.subscribe("idcard.removed", removed.append)
    reader.simulator.remove_card()
    until(lambda: removed or not reader._card_present, 5, "the reader to notice no card")
    unsubscribe()
    reader.simulator.place_card(json.loads(CARD.read_text(encoding="utf-8")))
    until(lambda: app.manager.current != "identify", 15, "the card to be read")


def identified(app, service_id: str) -> None:
    """A session whose card was read (the reader itself is exercised by the other tests); flows that
    show the platform's records go on to the face screen, which checks the simulated camera's face."""
    from devices.idcard.card import card_from_dict
    from kiosk.transaction import Transaction

    app.begin_session()
    app.core.session.service_id = service_id
    app.core.session.set_card(card_from_dict(json.loads(CARD.read_text(encoding="utf-8"))))
    app.core.transaction = Transaction(app.menu.service(service_id))
    app.show_step(app.core.transaction.advance())


def identity_checked(app) -> str:
    """What the face screen does, with a frame of the simulated camera: the presence grant."""
    import cv2
    from devices.camera_scenes import FaceScene
    frame = cv2.imencode(".jpg", FaceScene().render(1280, 720))[1].tobytes()
    answer = app.core.platform.verify_identity(app.core.session.card.to_public_dict(), None, frame)
    assert answer["match"], answer
    return answer["presence_grant"]


def prepared_session(app, service_id: str = "elderly-card", delivery: str = "pickup") -> None:
    """A session that has done everything up to 确认提交 (for the failure tests)."""
    from devices.idcard.card import card_from_dict
    from kiosk.transaction import CONFIRM, Transaction

    service = app.menu.service(service_id)
    app.begin_session()
    session = app.core.session
    session.service_id = service_id
    session.set_card(card_from_dict(json.loads(CARD.read_text(encoding="utf-8"))))
    session.presence_grant = identity_checked(app)
    session.form = {"name": "王秀英", "id-number": "440304194905120026", "phone": "13812345678",
                    "address": "深圳市福田区莲花一村12栋304房"}
    session.delivery = {"method": delivery, "centre": service.pickup_centres[0]["zh_CN"] if delivery == "pickup"
                        else None, "address": None}
    signature = session.temp_dir / "signature.png"
    signature.write_bytes(b"\x89PNG\r\n\x1a\n")
    session.signature = signature
    app.core.transaction = Transaction(service)
    app.core.transaction.index = app.core.transaction.steps.index(CONFIRM)
    app.show_step(CONFIRM)
    on_screen(app, "confirm")


# -- tests --------------------------------------------------------------------------------------
def test_full_elderly_card_application(app, kiosk):
    _, platform = kiosk
    printer = app.core.devices["receipt_printer"].simulator
    receipts_before = len(printer.receipts)
    start_service(app, "elderly-card")
    read_card(app)

    # 人证核验: the simulated face camera blinks; the reference platform checks the face
    on_screen(app, "face")
    face = current(app)
    until(lambda: face.ids.preview.has_frame, 5, "the camera preview")
    until(lambda: app.manager.current == "form", 40, f"identity verified (face: {face.status})")
    assert app.core.session.identity_verified and app.core.session.face_image[:2] == b"\xff\xd8"

    # form: name and ID number prefilled from the card; the phone typed on the digit pad
    form = current(app)
    pump_for(0.3)
    assert form.values["name"] == "王秀英" and form.values["id-number"] == "440304194905120026"
    tap(form.ids.next_button)
    assert app.manager.current == "form" and form.rows["phone"].error  # required fields flagged
    tap(form.rows["phone"].ids.value)
    pad = form.ids.editor.children[0]
    for digit in "13812345678":
        tap(next(k for k in pad.children if k.text == digit))
    assert form.values["phone"] == "13812345678"
    form.ids.scroll.scroll_to(form.rows["address"], animate=False)   # the resident scrolls down
    pump_for(0.2)
    tap(form.rows["address"].ids.value)
    use_card = next(w for w in form.ids.editor.children if "身份证" in getattr(w, "text", ""))
    tap(use_card)
    assert form.values["address"].startswith("广东省深圳市")
    tap(form.ids.next_button)

    # 高拍仪: the photo (main) is auto-captured, the residence permit (secondary) skipped
    on_screen(app, "materials")
    materials = current(app)
    assert materials.material_main and materials.ids.next_button.disabled
    until(lambda: materials.pages >= 1, 20, "the page to be auto-captured")
    photo_pages = app.core.session.materials["photo"]
    assert photo_pages and photo_pages[0].exists() and photo_pages[0].stat().st_mode & 0o077 == 0
    tap(materials.ids.next_button)
    assert not materials.material_main
    tap(materials.ids.next_button)           # 跳过，稍后补交

    # signature: an empty pad cannot be confirmed; one stroke can
    on_screen(app, "sign")
    sign = current(app)
    assert sign.ids.confirm.disabled
    drag(sign.ids.pad, [(0.2 + i * 0.03, 0.4 + (i % 3) * 0.1) for i in range(15)])
    tap(sign.ids.confirm)
    assert app.core.session.signature.read_bytes()[:4] == b"\x89PNG"

    # delivery: 就近领取 at the first centre
    on_screen(app, "delivery")
    delivery = current(app)
    tap(next(w for w in delivery.ids.methods.children if w.value == "pickup"))
    assert delivery.ids.next_button.disabled
    tap(delivery.ids.details.children[-1])
    tap(delivery.ids.next_button)
    assert app.core.session.delivery["method"] == "pickup" and app.core.session.delivery["centre"]

    # confirm: masked name and ID; submitted to the platform; receipt printed
    on_screen(app, "confirm")
    confirm = current(app)
    assert "王*英" in confirm.summary and "440304********0026" in confirm.summary
    assert "王秀英" not in confirm.summary
    tap(confirm.ids.submit)
    on_screen(app, "result", 20)
    result = current(app)
    number = app.core.session.application["application_no"]
    assert result.status == "submitted" and result.number == number and number.startswith("440304")
    assert platform.count("applications") >= 1
    until(lambda: len(printer.receipts) > receipts_before, 5, "the receipt")
    text = printer.text()
    assert number in text and "王*英" in text and "王秀英" not in text
    assert result.receipt_note == "" and not result.can_print   # 承诺件, collected at a centre
    # 边办边补: the skipped residence permit is owed, by the platform's deadline, on screen and receipt
    [owed] = app.core.session.application["receipt"]["owed"]
    assert owed["material_id"] == "residence-permit"
    assert f"待补交：深圳经济特区居住证（非深圳户籍申请人提交）（截止 {owed['deadline']}）" in result.owed
    assert "待补交材料" in text and owed["deadline"] in "".join(text.split())

    # rating: 不满意 offers reasons; then 结束 wipes the session
    tap(result.ids.done)
    on_screen(app, "rating")
    rating = current(app)
    tap(next(w for w in rating.ids.levels.children if w.value == 2))
    assert rating.ids.reasons.children
    tap(rating.ids.reasons.children[-1])
    tap(rating.ids.submit)
    until(lambda: rating.sent, 5, "the rating to be queued")
    tap(rating.ids.finish)
    assert app.manager.current == "home" and app.core.session is None


def test_platform_down_application_is_saved(app, kiosk):
    _, platform = kiosk
    prepared_session(app)  # 人证核验 passed while the platform answered
    platform.set_faults(error_rate=1.0, error_status=503)
    try:
        tap(current(app).ids.submit)
        on_screen(app, "result", 20)
        result = current(app)
        assert result.status == "queued" and result.headline == "已保存，联网后自动提交"
        assert result.number == app.core.session.application["reference"]
        assert "flow-kiosk" in result.number
    finally:
        platform.set_faults()


def test_paper_out_keeps_the_application_and_shows_its_number(app, kiosk):
    printer = app.core.devices["receipt_printer"].simulator
    printer.paper_out = True
    try:
        prepared_session(app)
        tap(current(app).ids.submit)
        on_screen(app, "result", 20)
        result = current(app)
        number = app.core.session.application["application_no"]
        assert result.status == "submitted" and result.number == number
        assert "已经保存" in result.receipt_note and result.ids.receipt_note.opacity == 1
        _, platform = kiosk
        row = platform.store.one("SELECT application_no FROM applications WHERE application_no = ?", (number,))
        assert row is not None
        # staff put in a new roll: once the kiosk's next status poll sees it, 重新打印凭条 prints the same number
        printer.paper_out = False
        until(lambda: app.core.device_statuses()["receipt_printer"]["state"] in ("ready", "busy"), 15,
              "the receipt printer to see paper again")
        receipts = len(printer.receipts)
        tap(result.ids.reprint)
        until(lambda: len(printer.receipts) > receipts, 10, "the reprinted receipt")
        until(lambda: not result.busy, 5, "the reprint to finish")
        assert number in printer.text() and result.receipt_note == "" and not result.can_reprint
    finally:
        printer.paper_out = False


def test_print_document_prints_a_licence_once(app, kiosk):
    from central.devseed import seed
    _, platform = kiosk
    seed(platform.store, platform.kiosk_id, "440304", CARD, current_token=platform.token)
    start_service(app, "social-insurance-proof-print")
    read_card(app)
    on_screen(app, "print_document")
    screen = current(app)
    until(lambda: screen.state == "list", 15, "the document list")
    printer = app.core.devices["licence_printer"]
    printer.font_cache = ROOT / "var" / "test-cache" / "fonts"   # shared with tests/test_print_licence.py
    assert sorted(d["title"] for d in screen.documents) == ["社会保险参保证明", "营业执照"]   # seeded
    summary = next(d for d in screen.documents if d["title"] == "社会保险参保证明")
    tap(next(b for b in screen.ids.documents.children if "社会保险参保证明" in b.text))
    until(lambda: screen.state in ("printed", "failed"), 90, "the licence to print")
    assert screen.state == "printed", screen.message
    assert printer.journal.get(summary["print_token"]).state == "completed"
    prints = sorted((app.kiosk_config.data_dir / "prints").glob("*.pdf"))
    assert len(prints) == 1 and prints[0].read_bytes()[:5] == b"%PDF-"
    # the same document again (e.g. a second press after a re-query): nothing new is printed
    screen._show([summary])
    pump_for(0.3)                                       # the rebuilt list is laid out
    tap(screen.ids.documents.children[0])
    until(lambda: screen.state in ("printed", "failed"), 30, "the second attempt")
    assert screen.message == "这份证照已经打印过，请在出纸口查看。"
    assert len(sorted((app.kiosk_config.data_dir / "prints").glob("*.pdf"))) == 1


def test_query_by_typed_application_number(app, kiosk):
    _, platform = kiosk
    number = app.core.platform.create_application(
        {"service_id": "elderly-card", "applicant": {"name": "王秀英", "id_number": "440304194905120026"},
         "form": {}, "materials": [], "delivery": {"method": "pickup"}, "submitted_at": None, "offline": False},
        "flow-query-test")["application_no"]
    identified(app, "application-progress")
    on_screen(app, "query")
    query = current(app)
    pad = next(w for w in query.walk() if w.__class__.__name__ == "DigitPad")
    press_digits(pad, "123")
    tap(query.ids.look_up)
    until(lambda: query.state not in ("input", "loading"), 10, "the first answer")
    assert query.state == "not_found" and query.message   # plain words, no protocol code
    tap(next(k for k in pad.children if k.text == "清空"))
    press_digits(pad, number)
    assert query.ids.number.text == number
    tap(query.ids.look_up)
    until(lambda: query.state == "found", 10, "the status")
    assert query.message == "已受理，正在办理" and "敬老优待证" in query.detail


def test_query_by_card_lists_the_residents_applications(app, kiosk):
    from central.devseed import seed
    _, platform = kiosk
    seed(platform.store, platform.kiosk_id, "440304", CARD, current_token=platform.token)
    identified(app, "application-progress")
    on_screen(app, "query")
    query = current(app)
    until(lambda: query.ids.mine.children, 10, "the resident's applications")
    chip = next(c for c in query.ids.mine.children if "社会保险参保证明" in c.text)
    tap(chip)
    until(lambda: query.state == "found", 10, "the status")
    assert query.ids.number.text == chip.value and query.message == "已办结"


def test_appeal_with_phrase_and_phone(app, kiosk):
    _, platform = kiosk
    before = platform.count("appeals")
    start_service(app, "appeal")            # no identification needed
    on_screen(app, "appeal")
    appeal = current(app)
    assert appeal.ids.submit.disabled
    tap(next(w for w in appeal.ids.categories.children if w.value == "complaint"))
    tap(next(w for w in appeal.ids.phrases.children if w.value == "办事等候时间太长"))
    pad = next(w for w in appeal.walk() if w.__class__.__name__ == "DigitPad")
    press_digits(pad, "1381234")
    tap(appeal.ids.submit)
    assert appeal.state == "input" and appeal.ids.phone_error.text == "请输入11位手机号码"
    press_digits(pad, "5678")
    tap(appeal.ids.submit)
    until(lambda: appeal.state != "input", 10, "the appeal to be sent")
    assert appeal.state == "sent" and appeal.reference.startswith("SQ")
    assert appeal.reference in app.overlay.body           # the resident sees the reference
    until(lambda: platform.count("appeals") == before + 1, 5, "the platform to hold it")
    row = platform.store.record("appeals", appeal.reference)
    assert row["category"] == "complaint" and row["text"] == "办事等候时间太长"


def test_materials_on_record_are_not_scanned_again(app, kiosk):
    """材料复用: the platform holds this resident's 居住证 (seeded), so only the photo is asked for."""
    from central.devseed import seed
    from kiosk.transaction import MATERIALS
    _, platform = kiosk
    seed(platform.store, platform.kiosk_id, "440304", CARD, current_token=platform.token)
    prepared_session(app)
    app.core.transaction.index = app.core.transaction.steps.index(MATERIALS)
    app.show_step(MATERIALS)
    on_screen(app, "materials")
    materials = current(app)
    until(lambda: materials.todo, 10, "the materials to scan")
    assert [m["id"] for m in materials.todo] == ["photo"]
    assert "居住证" in materials.reused and materials.ids.reused.height > 0


def test_session_ended_while_submitting_leaves_nothing_behind(app, kiosk):
    """结束 pressed while the submit worker waits: its answer is dropped, no busy cover stays."""
    _, platform = kiosk
    platform.set_faults(latency_s=1.5)
    try:
        prepared_session(app)
        confirm = current(app)
        tap(confirm.ids.submit)
        assert confirm.busy
        tap(app.header.ids.finish_button)
        assert app.manager.current == "home" and app.core.session is None and not confirm.busy
        pump_for(2.5)                                   # the worker finishes meanwhile
        assert app.manager.current == "home"
    finally:
        platform.set_faults()


def test_form_pinyin_pad_select_chips_and_language_switch(app, kiosk):
    from kiosk.transaction import FORM
    from screens.form import candidates
    assert "张" in candidates("zhang") and "张" in candidates("zh")
    prepared_session(app, "sole-proprietor-registration")
    app.core.session.form = {}
    app.core.transaction.index = app.core.transaction.steps.index(FORM)
    app.show_step(FORM)
    on_screen(app, "form")
    form = current(app)
    form.ids.scroll.scroll_to(form.rows["trade-name"], animate=False)
    pump_for(0.2)
    tap(form.rows["trade-name"].ids.value)
    pad = form.ids.editor.children[0]
    for letter in "xiu":
        tap(next(k for k in pad.walk() if getattr(k, "text", None) == letter))
    assert "秀" in pad.shown
    tap(next(c for c in pad.ids.candidates.children if c.text == "秀"))
    assert form.values["trade-name"] == "秀" and pad.letters == ""
    form.ids.scroll.scroll_to(form.rows["business-scope"], animate=False)
    pump_for(0.2)
    tap(form.rows["business-scope"].ids.value)
    tap(next(c for c in form.ids.editor.children if c.text == "餐饮服务"))
    assert form.values["business-scope"] == "catering"
    assert form.rows["business-scope"].ids.value.text == "餐饮服务"
    tap(form.ids.next_button)                      # phone and premises still missing
    assert form.rows["phone"].error == "此项必须填写"
    app.set_language("en")
    pump_for(0.2)
    try:
        assert form.rows["trade-name"].label == "Trade name"
        assert form.rows["business-scope"].ids.value.text == "Catering"
        assert form.rows["phone"].error == "This field is required"
    finally:
        app.set_language("zh_CN")


def test_identity_check_unreachable_says_so_and_offers_retry_or_counter(app, kiosk):
    _, platform = kiosk
    platform.set_faults(error_rate=1.0, error_status=503, paths=["/v1/identity"])
    try:
        start_service(app, "elderly-card")
        read_card(app)
        on_screen(app, "face")
        face = current(app)
        until(lambda: face.status == "failed", 40, f"the failed check (face: {face.status})")
        assert face.failure_title == "暂时无法核验身份" and not app.core.session.identity_verified
        assert face.ids.retry.opacity == 1 and not face.ids.retry.disabled
        tap(face.ids.retry)
        assert face.status == "capturing"
        until(lambda: face.status == "failed", 40, "the second failed check")
        printer = app.core.devices["receipt_printer"].simulator
        jobs = len(printer.receipts)
        tap(face.ids.counter)                      # 转人工办理: a slip, then 结束 keeps nothing
        until(lambda: app.overlay is not None, 10, "the slip's outcome")
        assert len(printer.receipts) == jobs + 1 and app.overlay.title == "请取走转人工凭条"
        tap(app.overlay.ids.primary)
        assert app.manager.current == "home" and app.core.session is None
    finally:
        platform.set_faults()


@pytest.mark.parametrize("printer_fault", [False, True])
def test_no_face_check_wanted_prints_a_counter_slip_and_ends_the_session(app, kiosk, printer_fault):
    """不想刷脸: the button is there while the camera runs; the slip has the reference and no personal
    data; a printer fault shows the reference on the screen instead; 结束 leaves nothing behind."""
    import re
    from tests.ui_driver import resident_traces
    printer = app.core.devices["receipt_printer"].simulator
    try:
        start_service(app, "elderly-card")
        read_card(app)
        on_screen(app, "face")
        face = current(app)
        assert face.status == "capturing" and face.ids.hand_off.opacity == 1
        assert face.ids.hand_off.height >= 64 and not face.ids.hand_off.disabled
        # the roll runs out now (earlier, the menu would rightly pause services that print)
        printer.paper_out = printer_fault
        jobs = len(printer.receipts)
        tap(face.ids.hand_off)
        until(lambda: app.overlay is not None, 10, "the slip's outcome")
        panel = app.overlay
        reference = re.search(r"ZRG-[A-Z2-9]{4}-[A-Z2-9]{4}", panel.body).group(0)
        if printer_fault:
            assert panel.title == "凭条没有打印出来" and len(printer.receipts) == jobs   # never claimed printed
        else:
            assert panel.title == "请取走转人工凭条" and len(printer.receipts) == jobs + 1
            text = printer.text()
            assert reference in text and "敬老优待证" in text
            for secret in residents_data():
                assert secret not in text
        assert not app.core.session.identity_verified       # no face check happened
        tap(panel.ids.primary)                               # 结束
        assert app.manager.current == "home" and app.core.session is None and app.overlay is None
        pump_for(0.3)
        assert not resident_traces(app, residents_data())
    finally:
        printer.paper_out = False
        # the next test starts a service that prints: wait for the printer's next poll to see paper
        until(lambda: app.core.device_statuses()["receipt_printer"]["state"] in ("ready", "busy"), 15,
              "the receipt printer to see paper again")


def test_a_face_check_answered_after_the_hand_off_changes_nothing(app, kiosk):
    """转人工 chosen while the platform still checks the face: the late match neither moves the
    resident on to the form nor covers the slip's message."""
    _, platform = kiosk
    platform.set_faults(latency_s=2.0, paths=["/v1/identity"])
    try:
        start_service(app, "elderly-card")
        read_card(app)
        on_screen(app, "face")
        face = current(app)
        until(lambda: face.status == "verifying", 40, f"the check to be asked (face: {face.status})")
        tap(face.ids.hand_off)
        until(lambda: app.overlay is not None, 10, "the slip's outcome")
        pump_for(3.0)                                   # the platform's match arrives meanwhile
        assert app.manager.current == "face" and app.overlay is not None and face.status == "handing_off"
        tap(app.overlay.ids.primary)
        assert app.manager.current == "home" and app.core.session is None
    finally:
        platform.set_faults()


def test_log_files_hold_none_of_the_residents_data(kiosk):
    """Runs last: after every simulated session above, at DEBUG level, the JSON-lines
    logs (Kivy's included) contain no raw name, ID number, phone, or address."""
    import logging
    app, _platform = kiosk
    for handler in logging.getLogger().handlers:
        handler.flush()
    card = json.loads(CARD.read_text(encoding="utf-8"))
    log_files = sorted((app.core.config.data_dir / "logs").glob("kiosk.jsonl*"))
    text = "".join(p.read_text(encoding="utf-8") for p in log_files)
    assert log_files and len(text.splitlines()) > 50          # the sessions did log
    for line in text.splitlines():
        json.loads(line)                                      # one JSON object a line
    raw = [card["name"], card["id_number"], card["address"], "13812345678", "深圳市福田区莲花一村12栋304房"]
    for value in raw:
        assert value not in text, f"resident data in the log: {value[:1]}…"


def fill_every_screen(app) -> None:
    """A resident's data on every screen that shows or edits it: the greeting, the form
    (the phone being edited), a courier address, the summary, an appeal's phone box."""
    prepared_session(app, delivery="courier")
    app.show("identify")
    on_screen(app, "identify")
    identify = current(app)
    identify.card_read(app.core.session.card)
    assert "王*英" in identify.greeting
    app.show_step("form")
    on_screen(app, "form")
    form = current(app)
    until(lambda: not app.core.busy_for_resident, 10, "the contact details on record")
    pump_for(0.2)
    tap(form.rows["phone"].ids.value)
    # shown whole while edited -- unless it is the number on record (an earlier test applied with it)
    on_record = form.on_record.get("phone") == "13812345678"
    assert form.rows["phone"].ids.value.text == ("138****5678" if on_record else "13812345678")
    assert not on_record or any("138****5678" in w.text for w in form.ids.editor.children)
    app.show_step("delivery")
    on_screen(app, "delivery")
    delivery = current(app)
    delivery.choose_method("courier")
    assert "莲花一村" in delivery.address
    tap(delivery.ids.next_button)
    on_screen(app, "confirm")
    app.show("appeal")
    on_screen(app, "appeal")
    appeal = current(app)
    tap(next(w for w in appeal.ids.categories.children if w.value == "help"))
    press_digits(next(w for w in appeal.walk() if w.__class__.__name__ == "DigitPad"), "13812345678")
    assert appeal.ids.phone.text == "13812345678"


def residents_data() -> list[str]:
    card = json.loads(CARD.read_text(encoding="utf-8"))
    return [card["name"], "王*英", card["id_number"], "440304********0026", card["address"],
            "13812345678", "138****5678", "深圳市福田区莲花一村12栋304房"]


@pytest.mark.parametrize("ending", ["finish", "idle_timeout"])
def test_no_screen_keeps_the_last_resident_after_the_session_ends(app, kiosk, ending):
    """Issue 12.2: after 结束 or the idle timeout, nothing reachable from the UI (screens,
    widgets, their properties, text boxes, closures) holds the resident's name, ID
    number, phone or address, raw or masked."""
    from kiosk.session import IdleTimer
    from tests.ui_driver import resident_traces
    fill_every_screen(app)
    if ending == "finish":
        tap(app.header.ids.finish_button)
    else:
        app.idle = IdleTimer(idle_s=0.2, countdown_s=0.3)
        until(lambda: app.manager.current == "home", 10, "the idle timeout")
    assert app.core.session is None
    pump_for(0.3)
    traces = resident_traces(app, residents_data())
    assert not traces, "\n".join(traces)


def test_a_returning_resident_reuses_the_phone_and_address_on_record(app, kiosk):
    """材料复用 of contact details: the platform holds the phone and address of an earlier
    application; the form offers them masked (one tap each), never shows them whole, and
    forgets them with the session."""
    import uuid
    from kiosk.transaction import FORM
    from tests.ui_driver import resident_traces, walk
    phone, address = "13987654321", "广东省深圳市福田区华富街道莲花二村5栋201房"
    app.core.platform.create_application(
        {"service_id": "elderly-card", "applicant": {"name": "王秀英", "id_number": "440304194905120026"},
         "form": {"phone": phone, "address": address}, "materials": [], "delivery": {"method": "pickup"},
         "submitted_at": None, "offline": False}, f"contact-ui-{uuid.uuid4().hex}")
    prepared_session(app)
    app.core.session.form = {}
    app.core.transaction.index = app.core.transaction.steps.index(FORM)
    app.show_step(FORM)
    on_screen(app, "form")
    form = current(app)
    tap(form.rows["phone"].ids.value)
    until(lambda: any("139****4321" in getattr(w, "text", "") for w in form.ids.editor.children), 10,
          "the number on record to be offered")
    shown = [getattr(w, "text", "") for w in walk(app.root)]
    assert not [t for t in shown if phone in t or "莲花二村" in t], "a number on record shown whole"
    use = next(w for w in form.ids.editor.children if "139****4321" in w.text)
    assert use.text == "使用此号码 139****4321"
    assert any(w.text == "换一个号码" for w in form.ids.editor.children)
    tap(use)                                                   # one tap instead of 11 digits
    assert form.values["phone"] == phone and form.rows["phone"].ids.value.text == "139****4321"
    form.ids.scroll.scroll_to(form.rows["address"], animate=False)
    pump_for(0.2)
    tap(form.rows["address"].ids.value)
    before = next(w for w in form.ids.editor.children if "上次填写" in getattr(w, "text", ""))
    assert before.text == "使用上次填写的地址 广东省深圳市福田区华富街道****"
    tap(before)
    assert form.values["address"] == address
    tap(form.rows["phone"].ids.value)                          # selected again: still masked
    assert form.rows["phone"].ids.value.text == "139****4321"
    tap(next(w for w in form.ids.editor.children if w.text == "换一个号码"))
    assert form.values["phone"] == "" and form.ids.editor.children[0].__class__.__name__ == "DigitPad"
    tap(app.header.ids.finish_button)
    assert app.core.session is None
    pump_for(0.3)
    traces = resident_traces(app, [phone, "139****4321", address])
    assert not traces, "\n".join(traces)


def test_a_slow_licence_print_is_never_timed_out(app, kiosk):
    """Issue 18 ("60 秒后返回首页" over 证照打印 in 2 of 60 prints): while a licence prints
    on a printer slower than the idle timeout and its countdown together, no countdown
    appears and the session lives; the licence is printed."""
    import base64
    import time

    from central.admin import approve_application
    from central.devseed import sample_applications
    from central.intake import intake
    from central.schemas import ApplicationRequest
    from central.storage import canonical_hash
    from screens.widgets import CountdownOverlay
    _, platform = kiosk
    card = json.loads(CARD.read_text(encoding="utf-8"))
    payload = dict(sample_applications(card))["dev-seed-social-insurance"]
    key = "slow-licence-test"
    platform.store.claim_key(platform.kiosk_id, "applications", key, canonical_hash(payload))
    body = ApplicationRequest.model_validate(payload)
    decoded = [(m, [(p.sha256, base64.b64decode(p.content_b64)) for p in m.pages]) for m in body.materials]
    with platform.store.write():
        response = intake(platform.store, platform.kiosk_id, key, body, decoded)
        platform.store.finish_key(platform.kiosk_id, "applications", key, 201, response)
    approve_application(platform.store, response["application_no"])

    printer = app.core.devices["licence_printer"]
    printer.font_cache = ROOT / "var" / "test-cache" / "fonts"
    real_print = printer.print_document
    idle_s, countdown_s = 1.0, 1.0

    def slow_print(doc, token):
        time.sleep(idle_s + countdown_s + 2)
        return real_print(doc, token)
    printer.print_document = slow_print
    try:
        start_service(app, "social-insurance-proof-print")
        read_card(app)
        on_screen(app, "print_document", 30)
        screen = current(app)
        until(lambda: screen.state == "list", 15, "the document list")
        session = app.core.session
        app.idle.idle_s, app.idle.countdown_s = idle_s, countdown_s      # shortened for the test
        pump_for(0.3)
        tap(next(b for b in screen.ids.documents.children if "社会保险参保证明" in b.text))
        countdowns = []
        until(lambda: countdowns.append(isinstance(app.overlay, CountdownOverlay)) or
              screen.state in ("printed", "failed"), 60, "the slow licence")
        assert screen.state == "printed", screen.message
        assert not any(countdowns) and app.core.session is session
        # the work is over: the idle timer runs again
        until(lambda: app.manager.current == "home", idle_s + countdown_s + 10, "the idle timeout after printing")
    finally:
        del printer.print_document
