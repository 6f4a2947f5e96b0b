"""What the hall sees over a resident's shoulder, in which script, and whether it fits.

* Privacy: the form never shows the whole ID number (also while it is typed), a phone
  number or an address only while its own field is being edited; no flow screen shows
  the card's ID number whole, and the confirm screen shows a courier address as its area.
* 繁體中文: the centre's name and the 通办通取 pickup centres in Traditional characters
  (also on the receipt), English names on English screens.
* Layout: in 长辈模式 with English, in landscape and portrait, every view of the tour
  shows every label whole (no "...", no cut lines or descenders, no word split over two
  lines) and no box spills over its neighbours (``screens.layout_check``); the header and
  the 长辈模式 banner in every language, mode and orientation.

One real app for the module under Xvfb (never KIVY_GL_BACKEND=mock).  No platform is
needed: the kiosk points at a closed port and nothing is submitted.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk import config as cfg
from tests.ui_driver import LANDSCAPE, pump, running_app, tap, until, walk

ROOT = Path(__file__).resolve().parent.parent
CARD = ROOT / "assets" / "cards" / "resident_elderly.json"
ID_NUMBER = "440304194905120026"
BIRTH_DATE_DIGITS = "19490512"
PHONE = "13812345678"
ADDRESS = "广东省深圳市福田区华富街道莲花一村12栋304房"
SIMPLIFIED_CENTRE, TRADITIONAL_CENTRE = "福田区华富街道党群服务中心", "福田區華富街道黨群服務中心"
SIMPLIFIED_HALL, TRADITIONAL_HALL = "福田区华富街道行政服务大厅", "福田區華富街道行政服務大廳"
PORTRAIT = (1080, 1920)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("views") / "var"
    config = cfg.parse(f"""
[kiosk]
data_dir = "{data}"
[platform]
url = "http://127.0.0.1:9"
timeout_s = 0.5
[heartbeat]
enabled = false
[menu]
bundle = "{ROOT / 'assets/menus/sample.bundle'}"
""", "test.toml", ROOT)
    from kivy.uix.screenmanager import NoTransition
    with running_app(config) as kiosk:
        kiosk.manager.transition = NoTransition()   # views, not fades
        until(lambda: kiosk.core_ready and kiosk.menu is not None, timeout=30)
        pump(5)
        yield kiosk


@pytest.fixture(autouse=True)
def landscape(app):
    """Each test starts in a landscape window and leaves it so (conftest's ui_reset does
    the rest: home, 简体, standard mode)."""
    from kivy.core.window import Window
    yield
    if tuple(Window.size) != LANDSCAPE:
        Window.size = LANDSCAPE
        pump(5)


# -- driving ------------------------------------------------------------------------------------
def shown_texts(app) -> list[str]:
    """The text of every label on the glass (also inside scrolled lists)."""
    from kivy.uix.label import Label
    return [w.text for w in walk(app.root_layout) if isinstance(w, Label) and w.text and w.opacity > 0]


def card():
    from devices.idcard.card import card_from_dict
    return card_from_dict(json.loads(CARD.read_text(encoding="utf-8")))


def start(app, service_id: str = "elderly-card", form: dict | None = None):
    """A session with the sample card read, at the beginning of ``service_id``."""
    from kiosk.transaction import Transaction
    app.begin_session()
    session = app.core.session
    session.service_id = service_id
    session.set_card(card())
    session.form = dict(form or {})
    app.core.transaction = Transaction(app.menu.service(service_id))
    return session


def tap_field(form, field_id: str) -> None:
    """Scroll the field into view, then tap its value box (as a resident would)."""
    form.ids.scroll.scroll_to(form.rows[field_id], animate=False)
    pump(3)
    tap(form.rows[field_id].ids.value)


def show_step(app, step: str):
    app.show_step(step)
    pump(6)
    return app.manager.current_screen


# -- privacy ------------------------------------------------------------------------------------
def test_form_never_shows_the_whole_id_number(app):
    """The form masked like the confirm screen: 440304********0026, never the birth date."""
    from screens.flow_widgets import DigitPad
    start(app)
    form = show_step(app, "form")
    assert app.manager.current == "form"
    id_box = form.rows["id-number"].ids.value
    assert id_box.text == "440304********0026"
    assert form.values["id-number"] == ID_NUMBER          # what is submitted stays whole
    texts = shown_texts(app)
    assert not [t for t in texts if ID_NUMBER in t or BIRTH_DATE_DIGITS in t], texts

    # retyped on the digit pad: each key shows up, the birth-date digits never do
    tap_field(form, "id-number")
    assert form.active_field == "id-number"
    pad = next(w for w in walk(form.ids.editor) if isinstance(w, DigitPad))
    keys = {w.text: w for w in walk(pad) if hasattr(w, "on_release") and getattr(w, "text", "")}
    for _ in range(len(ID_NUMBER)):
        tap(keys["删除"])
    assert form.values["id-number"] == "" and id_box.text == ""
    for typed, digit in enumerate(ID_NUMBER, 1):
        tap(keys[digit])
        shown = id_box.text
        assert len(shown) == typed and shown[:6] == ID_NUMBER[:min(typed, 6)]
        assert set(shown[6:14]) <= {"*"}, shown
        assert not any(ID_NUMBER[:max(typed, 7)] in t for t in shown_texts(app))
    assert form.values["id-number"] == ID_NUMBER and id_box.text == "440304********0026"


def test_form_shows_phone_and_address_whole_only_while_edited(app):
    start(app, form={"phone": PHONE, "address": ADDRESS})
    form = show_step(app, "form")
    phone, address = form.rows["phone"].ids.value, form.rows["address"].ids.value
    assert phone.text == "138****5678" and address.text == "广东省深圳市福田区华富街道****"
    assert not [t for t in shown_texts(app) if PHONE in t or "莲花一村" in t]
    tap_field(form, "phone")         # the resident checks or corrects it: whole
    assert form.active_field == "phone" and phone.text == PHONE
    tap_field(form, "address")
    assert form.active_field == "address"
    assert address.text == ADDRESS and phone.text == "138****5678"
    tap_field(form, "name")
    assert address.text == "广东省深圳市福田区华富街道****"


def test_no_flow_screen_shows_the_whole_id_number_and_confirm_shows_the_address_area(app):
    from screens.tour import tour_views
    seen = []
    for label in tour_views(app, "check"):
        pump(6)
        seen.append(label)
        leaks = [t for t in shown_texts(app) if ID_NUMBER in t or BIRTH_DATE_DIGITS in t]
        assert not leaks, f"{label}: {leaks}"
    assert {"check-flow-form", "check-flow-confirm", "check-flow-delivery"} <= set(seen)

    session = start(app, form={"phone": PHONE, "address": ADDRESS})
    session.delivery = {"method": "courier", "address": ADDRESS, "centre": None}
    confirm = show_step(app, "confirm")
    assert "广东省深圳市福田区华富街道****" in confirm.summary
    assert "440304********0026" in confirm.summary
    assert not [t for t in shown_texts(app) if "莲花一村" in t or PHONE in t or ID_NUMBER in t]


# -- 繁體中文 and English names -------------------------------------------------------------------
def test_traditional_screens_show_traditional_centre_and_pickup_names(app):
    from kiosk import workflow
    from kiosk.receipts import receipt_data
    app.set_language("zh_TW")
    pump(3)
    assert app.header.ids.centre_name.text == TRADITIONAL_CENTRE

    session = start(app)
    delivery = show_step(app, "delivery")
    delivery.choose_method("pickup")
    pump(3)
    names = [w.text for w in walk(delivery.ids.details) if getattr(w, "value", None)]
    assert TRADITIONAL_HALL in names and not [n for n in names if n == SIMPLIFIED_HALL]
    tap(next(w for w in walk(delivery.ids.details) if getattr(w, "text", "") == TRADITIONAL_HALL))
    tap(delivery.ids.next_button)
    assert session.delivery["centre"] == SIMPLIFIED_HALL    # the platform's key is unchanged
    confirm = show_step(app, "confirm")
    assert TRADITIONAL_HALL in confirm.summary and SIMPLIFIED_HALL not in confirm.summary
    texts = " ".join(shown_texts(app))
    assert SIMPLIFIED_HALL not in texts and SIMPLIFIED_CENTRE not in texts

    result = workflow.SubmitResult(status=workflow.SUBMITTED, item_id="i", reference="r",
                                   application_no="440304202611220000123")
    receipt = receipt_data(app.kiosk_config, session, app.menu.service("elderly-card"), result)
    assert receipt.centre_name == TRADITIONAL_CENTRE and receipt.delivery["centre"] == TRADITIONAL_HALL

    app.set_language("en")
    pump(3)
    assert app.header.ids.centre_name.text == app.kiosk_config.kiosk.centre_name_en
    assert "Huafu Subdistrict Service Hall, Futian" in app.manager.current_screen.summary
    receipt = receipt_data(app.kiosk_config, session, app.menu.service("elderly-card"), result)
    assert receipt.delivery["centre"] == "Huafu Subdistrict Service Hall, Futian"


# -- layout -------------------------------------------------------------------------------------
def layout_problems(app) -> list[str]:
    from screens.layout_check import cut_labels, spilled_boxes
    return cut_labels(app.root_layout) + spilled_boxes(app.root_layout)


def settle(app) -> None:
    from kivy.core.window import Window
    pump(4)
    until(lambda: tuple(Window.size) in (LANDSCAPE, PORTRAIT))
    pump(8)   # wrapped rows re-measure themselves (category list) on the next frames


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_every_view_fits_in_english_elder_mode(app, orientation):
    """The hardest case: English words are long, 长辈模式 type is 1.35× as big."""
    from screens.tour import ORIENTATIONS, views
    problems, seen = [], 0
    for label in views(app, orientations=[o for o in ORIENTATIONS if o[0] == orientation],
                       languages=("en",), elder_modes=(True,)):
        settle(app)
        seen += 1
        found = layout_problems(app)
        for _ in range(30):          # rows that grow to their wrapped text may need a few frames
            if not found:
                break
            pump()
            found = layout_problems(app)
        problems += [f"{label}: {p}" for p in found]
    assert seen >= 20
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("size", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
def test_header_and_elder_banner_whole_in_every_language_and_mode(app, size):
    from kivy.core.window import Window

    from kiosk import i18n
    from screens.theme import theme
    Window.size = size
    problems = []
    for language in i18n.LANGUAGES:
        for elder in (False, True):
            app.set_language(language)
            theme.elder = elder
            for in_session in (False, True):     # 结束 takes room from the centre name
                if in_session:
                    app.begin_session()
                app.show("home")
                settle(app)
                where = f"{language}{' elder' if elder else ''}{' session' if in_session else ''}"
                found = layout_problems(app)
                for _ in range(30):
                    if not found:
                        break
                    pump()
                    found = layout_problems(app)
                problems += [f"{where}: {p}" for p in found]
                name = app.header.ids.centre_name
                assert name.text == app.kiosk_config.centre_name_for(language)
                assert name.top <= Window.height and name.y >= app.header.y, where
            app.go_home("back")
    assert not problems, "\n".join(problems[:20])


def test_smaller_type_stays_smaller_after_switching_elder_mode(app):
    """A widget's own font size is not repainted with its class's after 长辈模式 on and off
    (the footer came back at body size, the pad's 删除 at title size)."""
    from screens.flow_widgets import DigitPad
    from screens.theme import theme
    home = app.manager.current_screen
    theme.elder = True
    pump(3)
    theme.elder = False
    pump(3)
    assert home.ids.footer.font_size == theme.fs_small
    start(app, form={"phone": ""})
    form = show_step(app, "form")
    tap_field(form, "phone")
    theme.elder = True
    pump(3)
    pad = next(w for w in walk(form.ids.editor) if isinstance(w, DigitPad))
    delete = next(w for w in walk(pad) if getattr(w, "text", "") == "删除")
    assert delete.font_size == theme.fs_body and delete.texture_size[1] <= delete.height
