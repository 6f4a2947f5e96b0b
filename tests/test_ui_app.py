"""The real kiosk app under Xvfb, driven by touches as a resident would.

One app instance for the module (Kivy allows one window per process); tests
run in file order and each returns the app to the home screen.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from kiosk import config as cfg
from tests.ui_driver import current, pump, running_app, tap, walk
from tests.ui_driver import until as pump_until

ROOT = Path(__file__).resolve().parent.parent
IDLE_S, COUNTDOWN_S = 1, 2


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("ui") / "var"
    config = cfg.parse(f"""
[kiosk]
data_dir = "{data}"
[session]
idle_timeout_s = {IDLE_S}
countdown_s = {COUNTDOWN_S}
elder_timeout_factor = 2.0
[menu]
bundle = "{ROOT / 'assets/menus/sample.bundle'}"
""", "test.toml", ROOT)
    with running_app(config) as kiosk:
        pump_until(lambda: kiosk.core_ready and tiles(kiosk), timeout=30)
        pump(3)
        yield kiosk


def tiles(app):
    from screens.widgets import IconTile
    return [w for w in reversed(app.screen("home").ids.categories.children) if isinstance(w, IconTile)]


def service_rows(app):
    from screens.category import ServiceRow
    pump(3)
    rows = [w for w in walk(current(app).ids.services) if isinstance(w, ServiceRow)]
    return sorted(rows, key=lambda r: -r.y)


def go_home(app):
    app.go_home("finished")
    pump(5)


# -- the resident's walk ----------------------------------------------------------------

def test_home_shows_menu_categories_in_simplified_chinese(app):
    assert app.manager.current == "home"
    titles = [t.title for t in tiles(app)]
    assert titles == [c.name("zh_CN") for c in app.menu.categories]
    assert titles[:5] == ["个人服务", "企业服务", "证照打印", "查询", "诉求建议"]
    home = current(app)
    assert home.ids.card_entry.ids.title.text == "刷身份证办理"
    assert app.header.ids.centre_name.text == "福田区华富街道党群服务中心"
    assert app.core.session is None and not app.session_active


def test_walk_home_category_guide_back_then_idle_timeout(app):
    tap(tiles(app)[0])
    assert app.manager.current == "category"
    assert current(app).title == "个人服务"
    assert app.core.session is not None and app.session_active
    session = app.core.session
    rows = service_rows(app)
    assert [r.title for r in rows][:2] == ["敬老优待证办理", "生育登记"]
    assert rows[0].kind.startswith("承诺件")

    tap(rows[0])
    assert app.manager.current == "guide"
    guide = current(app)
    pump(3)
    assert guide.ids.title.text == "敬老优待证办理"
    texts = [w.text for w in walk(guide) if hasattr(w, "text") and isinstance(w.text, str)]
    for heading in ("基本信息", "办理条件", "申请材料", "设定依据"):
        assert heading in texts
    assert "主件" in texts and "可复用" in texts
    assert guide.ids.start.text in ("开始办理", "本机暂停办理此业务")

    tap(guide.ids.back)
    assert app.manager.current == "category"

    # walk away: the countdown appears, then the session is wiped and home returns
    temp = session.temp_dir
    (temp / "scan.jpg").write_bytes(b"resident scan")
    pump_until(lambda: app.overlay is not None, timeout=IDLE_S + 3)
    assert "秒后返回首页" in app.overlay.ids.message.text
    assert app.overlay.ids.continue_button.text == "继续办理"
    pump_until(lambda: app.manager.current == "home", timeout=COUNTDOWN_S + 3)
    assert app.core.session is None and session.wiped and not temp.exists()
    assert app.overlay is None and not app.session_active


def test_continue_button_keeps_the_session(app):
    tap(tiles(app)[1])
    session = app.core.session
    pump_until(lambda: app.overlay is not None, timeout=IDLE_S + 3)
    tap(app.overlay.ids.continue_button)
    assert app.overlay is None
    assert app.core.session is session and app.manager.current == "category"
    go_home(app)


def test_finish_button_wipes_the_session(app):
    tap(tiles(app)[0])
    session = app.core.session
    session.form["phone"] = "13800138000"
    temp = session.temp_dir
    (temp / "signature.png").write_bytes(b"x")
    finish = app.header.ids.finish_button
    assert finish.opacity == 1
    tap(finish)
    assert app.manager.current == "home"
    assert app.core.session is None and session.wiped and session.form == {} and not temp.exists()
    assert app.header.ids.finish_button.disabled


# -- language and elder mode ---------------------------------------------------------------

def test_language_switch_updates_every_label_live(app):
    from kivy.core.window import Window
    from screens.widgets import HeaderBar
    header = app.header
    switch = [w for w in walk(header) if getattr(w, "text", None) in ("简", "繁", "EN")]
    by_text = {w.text: w for w in switch}
    tap(by_text["繁"])
    assert app.language == "zh_TW"
    assert header.ids.help_button.text == "幫助"
    assert [t.title for t in tiles(app)][0] == "個人服務"
    assert current(app).ids.card_entry.ids.title.text == "刷身份證辦理"
    tap(by_text["EN"])
    assert header.ids.help_button.text == "Help"
    assert tiles(app)[0].title == "Personal services"
    assert header.ids.centre_name.text == app.kiosk_config.kiosk.centre_name_en
    tap(tiles(app)[0])
    assert current(app).title == "Personal services"
    assert service_rows(app)[0].title == "Senior Citizen Card"
    tap(by_text["简"])
    assert current(app).title == "个人服务"
    assert service_rows(app)[0].title == "敬老优待证办理"
    assert isinstance(header, HeaderBar) and Window is not None
    go_home(app)


def test_elder_mode_scales_type_contrast_and_timeouts(app):
    from screens.theme import theme
    home = current(app)
    tile_title = tiles(app)[0].ids.title
    before = (tile_title.font_size, app.header.ids.help_button.font_size, home.ids.welcome.font_size)
    background = list(theme.background)
    tap(home.ids.elder_tile)
    pump(3)
    assert theme.elder
    after = (tiles(app)[0].ids.title.font_size, app.header.ids.help_button.font_size,
             home.ids.welcome.font_size)
    for old, new in zip(before, after):
        assert new >= 1.3 * old
    assert list(theme.background) != background and list(theme.text)[:3] == [0, 0, 0]
    tap(tiles(app)[0])
    assert app.core.session.elder_mode
    assert app.idle.idle_s == IDLE_S * 2.0 and app.idle.countdown_s == COUNTDOWN_S * 2.0
    tap(app.header.ids.elder_toggle)
    assert not theme.elder
    go_home(app)


# -- the ID card screen ------------------------------------------------------------------

def test_identify_screen_explains_errors_and_accepts_a_card(app):
    from devices.idcard.card import IdCard
    tap(current(app).ids.card_entry)
    assert app.manager.current == "identify"
    screen = current(app)
    assert screen.ids.instruction.text == "请将身份证放在感应区"

    def publish(topic, **data):  # from a worker thread, as the reader does
        worker = threading.Thread(target=app.core.bus.publish, args=(topic, "id_reader"), kwargs=data)
        worker.start()
        worker.join()

    publish("idcard.error", code="read_failed", message="checksum mismatch")
    pump_until(lambda: screen.status == "error")
    assert screen.ids.error_title.text == "没有读到身份证"
    assert "checksum" not in screen.ids.error_advice.text  # technician detail stays in the log
    publish("idcard.error", code="sam_self_test", message="SAM failed")
    pump_until(lambda: screen.ids.error_title.text == "读卡器暂时无法使用")
    for code in ("bad_check_digit", "bad_card_data"):   # the card's data, not the reader
        publish("idcard.error", code="read_failed", message="reset")
        pump_until(lambda: screen.ids.error_title.text == "没有读到身份证")
        publish("idcard.error", code=code, message="check digit mismatch")
        pump_until(lambda: screen.ids.error_title.text == "证件信息无法核验")
        assert screen.ids.error_advice.text == "请到人工窗口办理，工作人员会为您核验身份。"

    card = IdCard(card_type="resident", name="王䶮", id_number="11010519491231002X",
                  birth_date=dt.date(1949, 12, 31), valid_from=dt.date(2020, 1, 1),
                  valid_to=dt.date(2040, 1, 1), gender="女")
    publish("idcard.read", card=card)
    pump_until(lambda: screen.status == "done")
    assert screen.ids.instruction.text == "王*，您好"
    assert app.core.session.card is card
    pump_until(lambda: app.manager.current == "category", timeout=4)
    go_home(app)
    assert card is not None and app.core.session is None


def test_every_id_card_error_code_has_its_own_words_in_every_language():
    """docs/idcard.md lists the adapter's idcard.error codes; none may fall through to
    读卡器暂时无法使用 (that one is for the reader's own faults)."""
    import re

    from kiosk import i18n
    from screens.identify import DEVICE_TROUBLE, ERROR_WORDS, error_words
    doc = (ROOT / "docs" / "idcard.md").read_text(encoding="utf-8")
    row = next(line for line in doc.splitlines() if line.startswith("| `idcard.error`"))
    codes = re.findall(r"`(\w+)`", row.split("`code`:")[1].split(";")[0])
    assert {"expired", "bad_check_digit", "bad_card_data", "protocol"} <= set(codes)
    for code in codes:
        assert code in ERROR_WORDS and error_words(code) != DEVICE_TROUBLE, code
    assert error_words("bad_check_digit") == ("证件信息无法核验", "请到人工窗口办理，工作人员会为您核验身份。")
    for language, title in (("zh_TW", "證件資訊無法核驗"), ("en", "The card details could not be verified")):
        assert i18n.gettext("证件信息无法核验", language) == title
        assert i18n.gettext(error_words("bad_card_data")[1], language) != error_words("bad_card_data")[1]


def test_coloured_labels_keep_their_colour_over_language_and_elder_switches(app):
    """A KLabel's tone (red error title, blue instruction, muted note) survives a language
    switch and 长辈模式 both ways; the <KLabel> rule used to repaint them in theme.text."""
    from screens.theme import theme
    tap(current(app).ids.card_entry)
    assert app.manager.current == "identify"
    screen = current(app)
    screen.show_error("read_failed")
    pump(3)
    note = next(w for w in walk(screen) if getattr(w, "text", "").startswith("您的身份信息仅用于"))
    by_text = {w.text: w for w in walk(app.header) if getattr(w, "text", None) in ("简", "繁", "EN")}

    def check(when):
        for widget, tone in ((screen.ids.error_title.ids.note_text, "accent"), (screen.ids.instruction, "primary"),
                             (note, "text_muted")):
            assert list(widget.color) == list(getattr(theme, tone)), f"{widget.text!r} {when}"
            assert list(widget.color) != list(theme.text), f"{widget.text!r} turned black {when}"
    check("at first")
    tap(by_text["EN"])
    assert app.language == "en"
    check("after a switch to English")
    tap(app.header.ids.elder_toggle)
    assert theme.elder
    check("after 长辈模式 on")
    tap(by_text["繁"])
    check("after a switch to 繁體 in elder mode")
    tap(app.header.ids.elder_toggle)
    assert not theme.elder
    check("after 长辈模式 off")
    tap(by_text["简"])
    check("after a switch back to 简体")
    go_home(app)


def test_no_kv_rule_sets_a_klabel_colour_directly():
    """KLabel colours go through ``tone``: a ``color:`` on an instance would be repainted
    by the <KLabel> rule on the next palette change (the bug the test above guards)."""
    import re
    files = {p: p.read_text(encoding="utf-8").splitlines() for p in sorted((ROOT / "screens").glob("*.kv"))}
    klabels = {"KLabel"} | {m.group(1) for lines in files.values() for line in lines
                            if (m := re.match(r"^<(\w+)@[\w+]*KLabel[\w+]*>:", line))}
    offenders = []
    for path, lines in files.items():
        stack: list[tuple[int, str]] = []   # (indent, widget class) of the enclosing blocks
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            indent = len(line) - len(line.lstrip())
            while stack and stack[-1][0] >= indent:
                stack.pop()
            header = re.match(r"^(<[^>]+>|[A-Z][\w@+]*):\s*(#.*)?$", text)
            if header:
                stack.append((indent, header.group(1)))
            elif text.startswith("color:") and stack and stack[-1][1] != "<KLabel>" and (
                    stack[-1][1] in klabels or re.match(r"^<\w+@[\w+]*KLabel", stack[-1][1])):
                offenders.append(f"{path.name}:{number}: {text}")
    assert not offenders, "use tone: instead of color: on a KLabel\n" + "\n".join(offenders)


# -- hardening ---------------------------------------------------------------------------

def test_escape_f1_and_function_keys_do_nothing(app):
    from kivy.base import EventLoop
    from kivy.core.window import Window
    for key in (27, 282, 292, 293):
        assert Window.dispatch("on_keyboard", key, 0, None, []) is True
        pump()
    assert EventLoop.status == "started" and app.root is not None
    assert app.open_settings() is False and app._app_settings is None


def test_window_close_is_refused_in_production_profile(app):
    from kivy.core.window import Window
    app.production = True
    try:
        assert Window.dispatch("on_request_close") is True
    finally:
        app.production = False
    pump()
    assert app.root is not None


def test_production_profile_sets_kiosk_kivy_config(tmp_path):
    import json
    import subprocess
    import sys
    probe = (
        "import json, sys; from kiosk import config as cfg; from screens.bootstrap import configure_kivy;"
        f"c = cfg.parse('[kiosk]\\nprofile = \"production\"\\ndata_dir = \"{tmp_path}\"\\n');"
        "configure_kivy(c); from kivy.config import Config as K;"
        "print(json.dumps({'esc': K.get('kivy','exit_on_escape'), 'fs': K.get('graphics','fullscreen'),"
        "'cursor': K.get('graphics','show_cursor'), 'mouse': K.get('input','mouse'),"
        "'modules': K.options('modules')}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-500:]
    values = json.loads(out.stdout.strip().splitlines()[-1])
    assert values == {"esc": "0", "fs": "auto", "cursor": "0", "mouse": "mouse,disable_on_activity",
                      "modules": []}


def test_five_corner_taps_fire_the_maintenance_gesture(app):
    from kivy.core.window import Window
    from kivy.tests.common import UnitTestTouch
    fired = []

    def record(*_args):
        fired.append(True)
        return True  # handled: the default (open the maintenance screen) does not run
    app.bind(on_maintenance_gesture=record)
    try:
        for _ in range(4):
            t = UnitTestTouch(20, Window.height - 20)
            t.touch_down(); t.touch_up()
        pump()
        assert not fired
        t = UnitTestTouch(20, Window.height - 20)
        t.touch_down(); t.touch_up()
        pump()
        assert fired == [True]

        # the five taps must fall within three seconds (a fake clock for the shell)
        import types

        from screens import app as shell
        from screens.app import CORNER_WINDOW_S
        assert CORNER_WINDOW_S == 3.0
        clock = [1000.0]
        real_time = shell.time
        shell.time = types.SimpleNamespace(monotonic=lambda: clock[0])
        try:
            def taps(*gaps):
                for gap in gaps:
                    clock[0] += gap
                    t = UnitTestTouch(20, Window.height - 20)
                    t.touch_down(); t.touch_up()
            fired.clear()
            taps(0, 0.8, 0.8, 0.8, 0.8)      # 3.2 s from first to fifth: too slow
            assert not fired
            app._corner_taps.clear()
            taps(10, 0.7, 0.7, 0.7, 0.8)     # 2.9 s
            assert fired == [True]
        finally:
            shell.time = real_time
            app._corner_taps.clear()
        pump()
    finally:
        app.unbind(on_maintenance_gesture=record)
    go_home(app)


# -- layout --------------------------------------------------------------------------------

def _outside_window(root, width, height):
    """Visible widgets (not scrolled content) that stick out of the window."""
    from kivy.uix.scrollview import ScrollView
    bad = []

    def visit(widget):
        if widget.opacity == 0 or widget.width <= 1 or widget.height <= 1:
            return
        x, y = widget.to_window(widget.x, widget.y)
        if x < -1 or y < -1 or x + widget.width > width + 1 or y + widget.height > height + 1:
            bad.append(f"{type(widget).__name__} {getattr(widget, 'text', '')[:20]!r} at {x:.0f},{y:.0f} "
                       f"{widget.width:.0f}x{widget.height:.0f}")
        if isinstance(widget, ScrollView):
            return  # its content scrolls by design
        for child in widget.children:
            visit(child)
    visit(root)
    return bad


def _small_targets(root, minimum):
    from kivy.uix.behaviors import ButtonBehavior
    return [f"{type(w).__name__} {getattr(w, 'text', '')!r} {w.width:.0f}x{w.height:.0f}"
            for w in walk(root) if isinstance(w, ButtonBehavior) and w.opacity > 0 and not w.disabled
            and min(w.width, w.height) < minimum]


@pytest.mark.parametrize("elder", [False, True], ids=["standard", "elder"])
@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)], ids=["landscape", "portrait"])
def test_no_widget_outside_the_window_and_targets_are_big(app, size, elder):
    """Every target at least MIN_TOUCH_PX (64 px at 1080p; the 适老化 rule asks ≥ 60 in 长辈模式)."""
    from kivy.core.window import Window
    from screens.theme import MIN_TOUCH_PX, theme
    theme.elder = elder
    Window.size = size
    pump_until(lambda: tuple(Window.size) == size, timeout=5)
    pump(5)
    views = [("home", {}), ("category", {"category_id": app.menu.categories[0].id}),
             ("guide", {"service_id": app.menu.categories[0].services[0].id}),
             ("identify", {"service_id": None})]
    problems = []
    for name, params in views:
        if name != "home":
            app.begin_session()
        app.show(name, **params)
        pump_until(lambda: not app.manager.transition.is_active)
        pump(5)
        problems += [f"{name}: {p}" for p in _outside_window(app.root, *size)]
        problems += [f"{name} small target: {p}" for p in _small_targets(app.root, MIN_TOUCH_PX - 1)]
    Window.size = (1920, 1080)
    pump(5)
    go_home(app)
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)], ids=["landscape", "portrait"])
def test_whole_centre_name_in_the_header_and_big_pictograms_in_elder_mode(app, size):
    """Portrait: the header's controls move to a second row so the centre name is not cut
    short; 长辈模式: the tiles' pictograms stay about as big as in standard mode."""
    from kivy.core.text import Label as CoreLabel
    from kivy.core.window import Window
    from kivy.uix.image import Image
    from screens.theme import theme
    Window.size = size
    try:
        pump_until(lambda: tuple(Window.size) == size, timeout=5)
        pump(5)
        name = app.header.ids.centre_name
        full = CoreLabel(text=name.text, font_name=name.font_name, font_size=name.font_size, bold=True)
        full.refresh()
        assert full.texture.size[0] <= name.width, f"{name.text} cut short in a {size} header"
        assert app.header.portrait == (size[1] > size[0])

        def pictogram_heights():
            pump(5)
            return [min(w.norm_image_size) for t in tiles(app) for w in t.children if isinstance(w, Image)]
        standard = pictogram_heights()
        theme.elder = True
        elder = pictogram_heights()
        assert min(elder) >= 0.8 * min(standard), (standard, elder)
    finally:
        theme.elder = False
        Window.size = (1920, 1080)
        pump(5)


# -- glyphs actually rendered --------------------------------------------------------------

def test_rare_name_characters_render_with_real_glyphs(app):
    """Compare each rare character's bitmap with the font's missing-glyph box."""
    from kivy.core.text import Label as CoreLabel

    def bitmap(text, font):
        label = CoreLabel(text=text, font_name=font, font_size=48)
        label.refresh()
        return label.texture.pixels

    for font in ("KioskSC", "KioskTC"):
        missing = bitmap("\U000F0000", font)  # a supplementary private-use point: no glyph
        assert any(missing[3::4]), "the missing-glyph box should have ink"
        for ch in "䶮堃喆𠮷":
            assert bitmap(ch, font) != missing, f"{ch} renders as a missing glyph in {font}"


def test_waiting_for_a_slow_printer_is_never_timed_out(app):
    """Issue 18: while the kiosk works for the resident (here: a receipt printer that
    takes longer than the idle timeout and the countdown together, after a submission
    that waits for an unreachable platform) no countdown appears and the session lives;
    once the work is done the idle timer runs again."""
    from kiosk.samples import sample_card
    from screens.widgets import CountdownOverlay
    printer = app.core.devices["receipt_printer"]
    real_print = printer.print_receipt

    def slow_print(data):
        time.sleep(IDLE_S + COUNTDOWN_S + 1)
        return real_print(data)
    printer.print_receipt = slow_print
    try:
        tap(tiles(app)[0])
        session = app.core.session
        session.set_card(sample_card())
        app.core.start_service(app.menu.service("elderly-card"))
        session.delivery = {"method": "onsite_print", "centre": None, "address": None}
        app.core.at_step("confirm")
        app.show_step("confirm")
        pump_until(lambda: app.manager.current == "confirm" and not app.manager.transition.is_active)
        tap(current(app).ids.submit)
        countdowns = []
        pump_until(lambda: countdowns.append(isinstance(app.overlay, CountdownOverlay)) or
                   app.manager.current == "result", timeout=20)
        assert not any(countdowns) and app.core.session is session
        pump_until(lambda: isinstance(app.overlay, CountdownOverlay) or app.manager.current == "home",
                   timeout=IDLE_S + COUNTDOWN_S + 5)   # idle again: the countdown, then home
    finally:
        del printer.print_receipt
    assert printer.print_receipt == real_print
    go_home(app)


def test_scrollviews_keep_one_bar_color_observer(app):
    """Issue 18: Kivy 2.3.1's ScrollView bound ``bar_color`` again on every scroll and resize
    (~25 observers more per resident session on the guide, category and form screens)."""
    from kivy.uix.scrollview import ScrollView
    from kivy.uix.widget import Widget
    view = ScrollView(size=(200, 200), size_hint=(None, None))
    view.add_widget(Widget(size_hint_y=None, height=1000))
    for i in range(50):
        view.scroll_y = i % 2
        view.update_from_scroll()
    pump(3)
    assert len(view.get_property_observers("bar_color")) <= 1
    guide = app.screen("guide")
    for widget in guide.walk():
        if isinstance(widget, ScrollView):
            assert len(widget.get_property_observers("bar_color")) <= 1
