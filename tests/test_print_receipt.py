"""Receipt bytes: encoding, Chinese mode, width, printer safety, layouts, profiles, status decoding."""
from __future__ import annotations

from datetime import datetime

import pytest

from devices.base import State
from devices.printers import status as st
from devices.printers.paper import COLUMNS
from devices.printers.printable import printable
from devices.printers.receipt_layout import ReceiptData, build_receipt
from devices.printers.simulator import Interpreter, render_png

FULL_WIDTH = "，。：；！？（）【】《》“”‘’、—…"


def sample(**over) -> ReceiptData:
    data = dict(centre_name="福田区华富街道党群服务中心", service_name="敬老优待证办理", application_no="FT-2026-000123",
                resident_name="张*三", id_number="110105********002X", submitted_at=datetime(2026, 11, 22, 10, 30),
                status="submitted", kind="即办件", delivery={"method": "onsite_print"},
                lookup_url="https://zwfw.example.gov.cn/q?no=FT-2026-000123", language="zh_CN")
    data.update(over)
    return ReceiptData(**data)


def interpret(payload: bytes, width: int = 80, encoding: str = "gb18030") -> Interpreter:
    interp = Interpreter(encoding, COLUMNS[width])
    interp.feed(payload)
    assert not interp.unknown, f"bytes the printer would not understand: {interp.unknown}"
    return interp


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8"])
def test_chinese_mode_and_explicit_encoding_keep_full_width_punctuation(encoding):
    payload = build_receipt(sample(service_name="事项" + FULL_WIDTH), encoding=encoding)
    assert payload.startswith(b"\x1b@" + (b"\x1c." if encoding == "utf-8" else b"\x1c&"))
    assert FULL_WIDTH.encode(encoding)[:12] in payload
    text = interpret(payload, encoding=encoding).text()
    assert "?" not in text.replace("?no=", "")
    assert FULL_WIDTH[:6] in text.replace("\n", "").replace(" ", "")


def test_resident_text_cannot_smuggle_control_bytes():
    evil = "张\x1b@\x1dV\x00*三\x10\x04\x01\r\n\u202e"
    payload = build_receipt(sample(resident_name=evil, service_name="事项\x1bE\x01\x07", application_no="A\x00B",
                                   delivery={"method": "courier", "address": "深圳市\x1dV\x00****"}))
    interp = interpret(payload)
    assert printable(evil) == "张@V*三"
    assert b"\x07" not in payload and b"\x10" not in payload and b"A\x00B" not in payload
    assert payload.count(b"\x1dV") == 1 and payload.count(b"\x1b@") == 1    # one init, one cut
    assert "AB" in interp.text() and "张@V*三" in interp.text() and "深圳市V****" in interp.text()


@pytest.mark.parametrize("width", [58, 80])
@pytest.mark.parametrize("language", ["zh_CN", "zh_TW", "en"])
def test_lines_fit_the_paper_and_centring_is_set(width, language):
    payload = build_receipt(sample(language=language, service_name="敬老优待证办理（申领、补领、换领）以及相关证明材料核验"
                                   if language != "en" else "Senior citizen card (apply, replace) and related checks"),
                            width_mm=width)
    interp = interpret(payload, width)
    assert b"\x1ba\x01" in payload           # centring is explicit (the default profile has no width)
    for line in interp.job(-1):
        cells = sum((1 if ord(ch) < 0x80 else 2) * (2 if d else 1) for text, _, d in line.runs for ch in text)
        assert cells <= COLUMNS[width], line


def test_prints_what_the_core_gives_and_layout_texts():
    zh = interpret(build_receipt(sample(status="queued", kind="承诺件", promised_days=5))).text()
    assert "张*三" in zh and "110105********002X" in zh     # as given: the core masked them
    assert "已保存，联网后自动提交" in zh and "承诺件（5个工作日内办结）" in zh
    tw = interpret(build_receipt(sample(language="zh_TW", delivery={"method": "pickup", "centre": "华富中心"}))).text()
    assert "辦事回執" in tw and "華富中心".replace("華", "华") in tw and "已提交" in tw
    en = interpret(build_receipt(sample(language="en", delivery={"method": "courier", "address": "深圳市福田区****"}))).text()
    assert "Service Receipt" in en and "By courier: 深圳市福田区****" in en


def test_texts_come_from_the_gettext_catalogues_in_every_language():
    """One translation mechanism: every fixed word of a receipt is a msgid (context
    "receipt") of the compiled catalogues, translated in zh_TW and en."""
    import gettext
    from common.paths import LOCALE_DOMAIN, LOCALES
    from devices.printers.receipt_texts import MESSAGES, translator
    for language in ("zh_TW", "en"):
        catalogue = gettext.translation(LOCALE_DOMAIN, localedir=str(LOCALES), languages=[language])
        missing = [m for m in MESSAGES if not catalogue._catalog.get(f"receipt\x04{m}")]  # a msgstr, even if equal
        assert not missing, f"{language}: receipt texts missing from the catalogue: {missing}"
    assert translator("zh_CN")("现场打印") == "现场打印"
    assert "Service Receipt" in interpret(build_receipt(sample(language="en"))).text()
    assert "辦事回執" in interpret(build_receipt(sample(language="zh_TW"))).text()


def test_a_profile_without_native_qr_prints_a_raster_image_of_the_code():
    import zxingcpp
    from PIL import Image
    import io

    payload = build_receipt(sample(), 58, profile="POS-5890")
    assert b"\x1d(k" not in payload and b"\x1dv0" in payload      # no native QR command: a GS v 0 raster
    job = interpret(payload, 58).job(-1)
    assert [line.raster[:2] for line in job if line.raster] and not any(line.qr for line in job)
    assert not any(line.cut for line in job)                       # the profile has no cutter: feed only
    page = Image.open(io.BytesIO(render_png(payload, 58)))
    assert [r.text for r in zxingcpp.read_barcodes(page)] == ["https://zwfw.example.gov.cn/q?no=FT-2026-000123"]


def test_receipt_has_qr_and_cut():
    interp = interpret(build_receipt(sample()))
    job = interp.job(-1)
    assert [line.qr[0] for line in job if line.qr] == ["https://zwfw.example.gov.cn/q?no=FT-2026-000123"]
    assert job[-1].cut


def test_preview_png_renders_every_character_with_the_cjk_font():
    from fontTools.ttLib import TTFont

    from devices.printers.fonts import font_source

    png = render_png(build_receipt(sample(service_name="事项" + FULL_WIDTH)), 58)
    assert png.startswith(b"\x89PNG")
    path, index = font_source("SC")
    cmap = TTFont(str(path), fontNumber=index, lazy=True).getBestCmap()
    text = interpret(build_receipt(sample(service_name="事项" + FULL_WIDTH))).text()
    assert not [ch for ch in text if not ch.isspace() and ord(ch) not in cmap]


def test_status_bytes_are_validated_and_decoded():
    assert st.is_status_byte(0x12) and st.is_status_byte(0x1E) and not st.is_status_byte(0x00)
    assert not st.is_status_byte(0xFF) and not st.is_status_byte(0x02)
    assert st.PrinterStatus.decode(0x12, 0x12, 0x12, 0x12).device_status()[0] == State.READY
    assert st.PrinterStatus.decode(0x12, 0x12, 0x12, 0x1E).device_status()[2] == "paper_near_end"
    assert st.PrinterStatus.decode(0x1A, 0x32, 0x12, 0x72).device_status()[2] == "paper_out"
    assert st.PrinterStatus.decode(0x1A, 0x16, 0x12, 0x12).device_status()[2] == "cover_open"
    assert st.PrinterStatus.decode(0x1A, 0x12, 0x12, 0x12).device_status()[2] == "offline"


class _Silent:
    bidirectional = True

    def __init__(self, replies=b""):
        self.replies = bytearray(replies)

    def write(self, data):
        pass

    def read(self, size, timeout):
        if self.replies:
            return bytes([self.replies.pop(0)])
        return b""

    def reset_input(self):
        pass


def test_silence_and_garbage_are_unknown_never_plenty_of_paper():
    with pytest.raises(st.StatusUnavailable, match="no reply"):
        st.query(_Silent(), timeout=0.05)
    with pytest.raises(st.StatusUnavailable, match="invalid reply 0x00"):
        st.query(_Silent(b"\x12\x00"), timeout=0.05)


def test_wrapping_keeps_closing_punctuation_off_line_starts_and_english_words_whole():
    from devices.printers.escpos_writer import EscPosWriter

    writer = EscPosWriter(32, "gb18030")
    assert writer.wrap("一二三四五。六", 10) == ["一二三四", "五。六"]
    assert writer.wrap("Pick up at any service centre", 12) == ["Pick up at", "any service", "centre"]
