"""转人工凭条 (the way past the face check), without a window: KioskCore with the simulated
receipt printer (real ESC/POS over loopback TCP) prints a slip that carries a random
reference and nothing about the resident; a printer fault is reported, never raised."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from kiosk.samples import sample_card
from tests.test_core_usecases import WAIT_S, core, platform  # noqa: F401 (module fixtures)

ROOT = Path(__file__).resolve().parent.parent
PREVIEW_DIR = ROOT / "var" / "test-previews"
REFERENCE = re.compile(r"ZRG-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}")


@pytest.fixture
def at_face(core):  # noqa: F811
    """A session with the sample card read, on 敬老优待证办理's face check (not passed)."""
    core.begin_session()
    assert core.identify(sample_card()) is None
    core.start_service(core.menu.service("elderly-card"))
    assert core.transaction.current == "face"
    yield core.session
    core.end_session()


def personal_data(session) -> list[str]:
    """Every form of the resident's data that must not be on the slip: raw and masked."""
    from kiosk.privacy import mask_address, mask_id_number, mask_name
    card = session.card
    return [card.name, mask_name(card.name), card.id_number, mask_id_number(card.id_number),
            card.id_number[6:14], card.address, mask_address(card.address), "13812345678", "138****5678"]


@pytest.mark.parametrize("language", ["zh_CN", "zh_TW", "en"])
def test_slip_carries_a_random_reference_and_no_personal_data(core, at_face, language):  # noqa: F811
    import zxingcpp
    from PIL import Image
    at_face.language = language
    at_face.form = {"phone": "13812345678"}            # whatever the session holds, none goes on the slip
    printer = core.devices["receipt_printer"].simulator
    jobs, sent = len(printer.receipts), len(printer.received)
    outcome = core.counter_slip().result(WAIT_S)
    assert outcome.printed and outcome.error is None and REFERENCE.fullmatch(outcome.reference)
    assert len(printer.receipts) == jobs + 1
    payload = bytes(printer.received[sent:])
    text = printer.text()
    service = core.menu.service("elderly-card")
    assert outcome.reference in text and service.name(language) in text
    assert core.config.centre_name_for(language) in text
    for secret in personal_data(at_face):
        for encoding in ("gb18030", "utf-8", "utf-16-le"):
            assert secret.encode(encoding) not in payload, f"{secret[:1]}… on the slip ({encoding})"
        assert secret not in text
    words = {"zh_CN": "人工服务窗口", "zh_TW": "人工服務窗口", "en": "staffed service counter"}[language]
    assert words.replace(" ", "") in re.sub(r"\s", "", text)   # wrapped lines
    qrs = [line.qr[0] for line in printer.receipts[-1] if line.qr]
    assert qrs == [outcome.reference]                   # the counter scans the reference, only that
    # the preview the simulator renders from the same bytes: the code reads back
    png = printer.render_png()
    PREVIEW_DIR.mkdir(parents=True, exist_ok=True)
    (PREVIEW_DIR / f"counter-slip-{language}.png").write_bytes(png)
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))] == [outcome.reference]


def test_references_are_random_not_derived(core, at_face):  # noqa: F811
    from kiosk.counter_slip import new_reference
    seen = {new_reference() for _ in range(2000)}
    assert len(seen) == 2000 and all(REFERENCE.fullmatch(r) for r in seen)
    first, second = core.counter_slip().result(WAIT_S), core.counter_slip().result(WAIT_S)
    assert first.reference != second.reference          # same resident, same service, same minute
    # no character position is fixed across references (nothing of the kiosk, time or resident)
    chars = [r.replace("-", "")[3:] for r in seen]
    assert all(len({c[i] for c in chars}) > 20 for i in range(8))


def test_a_printer_fault_is_told_with_the_reference_not_raised(core, at_face):  # noqa: F811
    printer = core.devices["receipt_printer"].simulator
    printer.paper_out = True
    try:
        jobs = len(printer.receipts)
        outcome = core.counter_slip().result(WAIT_S)
        assert not outcome.printed and outcome.error == "paper_out" and REFERENCE.fullmatch(outcome.reference)
        assert len(printer.receipts) == jobs                 # nothing came out
    finally:
        printer.paper_out = False
    assert not core.busy_for_resident


def test_no_receipt_printer_is_told_too(core, at_face):  # noqa: F811
    printer = core.devices.pop("receipt_printer")
    try:
        outcome = core.counter_slip().result(WAIT_S)
        assert not outcome.printed and outcome.error == "no_printer" and outcome.reference
    finally:
        core.devices["receipt_printer"] = printer
