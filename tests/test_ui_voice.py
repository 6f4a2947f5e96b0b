"""Voice guidance on the real app (Xvfb): every screen speaks its prompt when shown, the
state changes a resident must notice are spoken, 🔊 朗读 reads the screen (the 办事指南 on
the guide screen) but never the resident's data, the volume control steps and is reset
when the session ends, 长辈模式 turns prompts on.

The app runs against the reference platform with the simulated devices, the simulated
audio device among them (it keeps a log of the sounds it was handed); espeak-ng really
synthesises.  Never with KIVY_GL_BACKEND=mock.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.ui_driver import app_on_the_reference_platform, current, drag, on_screen, pump_for, tap, until

ROOT = Path(__file__).resolve().parent.parent
CARD = ROOT / "assets" / "cards" / "resident_elderly.json"

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with app_on_the_reference_platform(tmp_path_factory.mktemp("voice-ui"), "voice-kiosk",
                                       ready=lambda app: app.menu is not None and app.core.voice is not None) \
            as (kiosk, _platform):
        yield kiosk


def asked(app) -> list[str]:
    """The prompt ids the core was asked to speak, in order ("text" for 朗读)."""
    return [prompt for prompt, _language in app.core.voice.requested]


def mark(app) -> int:
    """From now on (the speaker keeps its last 64 requests): index 0."""
    app.core.voice.requested.clear()
    return 0


def heard(app, prompt: str, since: int = 0, timeout: float = 10) -> None:
    until(lambda: prompt in asked(app)[since:], timeout, f"prompt {prompt} (asked: {asked(app)[since:]})")


def sink(app):
    return app.core.devices["audio"]


def spy_read_aloud(app, monkeypatch) -> list:
    """The lines each 朗读 handed to the core, and the text the speaker then queued."""
    seen: list = []
    original, queue = app.core.read_aloud, app.core.voice._queue
    monkeypatch.setattr(app.core, "read_aloud", lambda lines: seen.append(("lines", list(lines))) or original(lines))
    monkeypatch.setattr(app.core.voice, "_queue",
                        lambda request, interrupt: (request.text is not None and seen.append(("spoken", request.text)))
                        or queue(request, interrupt))
    return seen


# -- every screen, every state a resident must notice -----------------------------------------
def test_every_screen_and_state_of_an_application_is_spoken(app):
    from tests.test_ui_flow_apply import read_card, start_service
    app.core.voice.requested.clear()
    played_before = len(sink(app).played)

    app.go_home("finished")
    heard(app, "screen.home")
    start_service(app, "elderly-card")         # home → category → guide → 开始办理
    heard(app, "screen.category")
    heard(app, "screen.guide")
    read_card(app)                             # identify: the card is read
    heard(app, "screen.identify")
    heard(app, "card.read")
    on_screen(app, "face")                     # the simulated camera blinks, the platform checks
    heard(app, "screen.face")
    until(lambda: app.manager.current == "form", 40, "identity verified")
    heard(app, "face.captured")
    assert [p for p in asked(app) if p.startswith("face.") and p != "face.captured"], asked(app)
    heard(app, "screen.form")

    form = current(app)
    pump_for(0.3)
    tap(form.rows["phone"].ids.value)
    pad = form.ids.editor.children[0]
    for digit in "13812345678":
        tap(next(k for k in pad.children if k.text == digit))
    form.ids.scroll.scroll_to(form.rows["address"], animate=False)
    pump_for(0.2)
    tap(form.rows["address"].ids.value)
    tap(next(w for w in form.ids.editor.children if "身份证" in getattr(w, "text", "")))
    tap(form.ids.next_button)

    on_screen(app, "materials")
    heard(app, "screen.materials")
    materials = current(app)
    until(lambda: materials.pages >= 1, 20, "the page to be auto-captured")
    heard(app, "capture.done")
    tap(materials.ids.next_button)
    tap(materials.ids.next_button)             # 跳过，稍后补交

    on_screen(app, "sign")
    heard(app, "screen.sign")
    sign = current(app)
    drag(sign.ids.pad, [(0.2 + i * 0.03, 0.4 + (i % 3) * 0.1) for i in range(15)])
    tap(sign.ids.confirm)

    on_screen(app, "delivery")
    heard(app, "screen.delivery")
    delivery = current(app)
    tap(next(w for w in delivery.ids.methods.children if w.value == "pickup"))
    tap(delivery.ids.details.children[-1])
    tap(delivery.ids.next_button)

    on_screen(app, "confirm")
    heard(app, "screen.confirm")
    tap(current(app).ids.submit)
    on_screen(app, "result", 20)
    assert app.core.session.application.get("receipt_printed")
    heard(app, "receipt.take")                 # the receipt printed: 请取走凭条
    tap(current(app).ids.done)
    on_screen(app, "rating")
    heard(app, "screen.rating")

    # the other resident screens, each on entry
    for name, params in (("print_document", {}), ("query", {}), ("appeal", {})):
        app.show(name, **params)
        on_screen(app, name)
        heard(app, f"screen.{name}")
    # the sounds reached the audio device, in Mandarin
    until(lambda: len(sink(app).played) > played_before + 5, 20, "sounds on the audio device")
    assert {language for _p, language in app.core.voice.requested} == {"zh_CN"}
    app.go_home("finished")


def test_card_errors_and_face_failure_are_spoken(app):
    from tests.test_ui_flow_apply import identified
    app.begin_session()
    app.show("identify")
    on_screen(app, "identify")
    since = mark(app)
    current(app).show_error("read_failed")
    heard(app, "card.read_failed", since)
    current(app).show_error("expired")
    heard(app, "card.expired", since)
    current(app).show_error("sam_self_test")
    heard(app, "card.reader_trouble", since)
    identified(app, "elderly-card")
    on_screen(app, "face")
    current(app).fail("no_match")
    heard(app, "face.failed", since)
    app.go_home("finished")


def test_idle_countdown_is_spoken(app):
    from kiosk.session import IdleTimer
    app.begin_session()
    app.show("category", category_id=app.menu.categories[0].id)
    since = mark(app)
    app.idle = IdleTimer(idle_s=0.2, countdown_s=30)
    until(lambda: app.overlay is not None, 5, "the countdown")
    heard(app, "idle.countdown", since)
    app.go_home("finished")


def test_printing_a_licence_is_spoken(app, monkeypatch):
    import types
    app.begin_session()
    app.show("print_document", documents=[])
    on_screen(app, "print_document")
    screen = current(app)
    since = mark(app)
    from concurrent.futures import Future
    done: Future = Future()
    done.set_result(types.SimpleNamespace(already_printed=False))
    monkeypatch.setattr(app.core, "print_licence", lambda summary: done)
    screen.print_one({"title": "x", "print_token": "t"})
    heard(app, "print.done", since)
    failed: Future = Future()
    failed.set_exception(RuntimeError("paper out"))
    monkeypatch.setattr(app.core, "print_licence", lambda summary: failed)
    screen.print_one({"title": "y", "print_token": "u"})
    heard(app, "print.failed", since)
    app.go_home("finished")


# -- 朗读 -----------------------------------------------------------------------------------------
def test_read_aloud_reads_the_service_guide(app, monkeypatch):
    seen = spy_read_aloud(app, monkeypatch)
    service = app.menu.service("elderly-card")
    app.begin_session()
    app.show("guide", service_id="elderly-card")
    on_screen(app, "guide")
    pump_for(0.5)
    played = len(sink(app).played)
    tap(app.header.ids.read_aloud_button)
    lines = next(v for kind, v in seen if kind == "lines")
    spoken = next(v for kind, v in seen if kind == "spoken")
    from screens.guide import MaterialRow
    assert service.name("zh_CN") in lines[:3], lines[:5]
    materials = [w.title for w in current(app).walk() if isinstance(w, MaterialRow)]
    assert materials and all(m in spoken for m in materials), (materials, spoken)   # the 办事指南
    until(lambda: len(sink(app).played) > played, 20, "the guide read aloud")
    assert sink(app).played[-1]["samples"] > 22050 * 5      # several seconds of speech
    app.go_home("finished")


def test_read_aloud_never_speaks_the_residents_data(app, monkeypatch):
    from tests.test_ui_flow_apply import prepared_session, residents_data
    prepared_session(app, delivery="courier")
    seen = spy_read_aloud(app, monkeypatch)
    refused = app.core.voice.refused
    tap(app.header.ids.read_aloud_button)
    lines = next(v for kind, v in seen if kind == "lines")
    assert any("王*英" in line for line in lines)             # the screen shows it, masked …
    spoken = [v for kind, v in seen if kind == "spoken"]
    assert spoken and app.core.voice.refused > refused         # … the voice does not say it
    for secret in residents_data() + ["王*英", "王秀英"]:
        assert all(secret not in text for text in spoken), secret
    assert all("*" not in text for text in spoken)
    app.go_home("finished")


# -- volume, 长辈模式 ------------------------------------------------------------------------------
def filled_bars(button) -> int:
    """The volume button's drawing: four bars, the ones above the level drawn hollow."""
    from kivy.graphics import Rectangle
    rects = [i for i in button.canvas.after.children if isinstance(i, Rectangle)]
    assert len(rects) == 7
    return 4 - sum(1 for r in rects[4:] if r.size[0] > 0)


def test_volume_control_steps_and_is_reset_when_the_session_ends(app):
    from kiosk.voice.speaker import VOLUME_STEPS_DB
    default = app.kiosk_config.voice.volume
    button = app.header.ids.volume_button
    pump_for(0.1)
    assert app.volume_step == default and filled_bars(button) == default + 1
    app.begin_session()
    pump_for(0.2)                                              # 结束 appears: the header lays out again
    tap(button)
    assert app.volume_step == (default + 1) % len(VOLUME_STEPS_DB) == app.core.voice.volume
    pump_for(0.1)
    assert filled_bars(button) == app.volume_step + 1
    heard(app, "volume.changed")
    tap(button)
    tap(button)
    assert app.core.voice.volume != default
    tap(app.header.ids.finish_button)                          # 结束
    assert app.core.session is None
    assert app.core.voice.volume == default == app.volume_step
    pump_for(0.1)
    assert filled_bars(button) == default + 1


def test_elder_mode_turns_prompts_on_by_default(app, monkeypatch):
    monkeypatch.setattr(app.core.voice, "default_enabled", False)   # a kiosk configured silent
    app.go_home("finished")
    assert not app.core.voice_enabled
    since = mark(app)
    app.show("category", category_id=app.menu.categories[0].id)
    pump_for(0.2)
    assert "screen.category" not in asked(app)[since:]
    tap(app.header.ids.elder_toggle)
    assert app.core.voice_enabled
    app.show("category", category_id=app.menu.categories[0].id)
    heard(app, "screen.category", since)
    app.go_home("finished")
    assert not app.core.voice_enabled                          # the next resident: the defaults


def test_a_language_switch_speaks_in_that_language(app):
    app.set_language("en")
    since = mark(app)
    app.show("category", category_id=app.menu.categories[0].id)
    until(lambda: ("screen.category", "en") in list(app.core.voice.requested)[since:], 5, "English prompt")
    app.set_language("zh_TW")
    app.show("category", category_id=app.menu.categories[0].id)
    until(lambda: ("screen.category", "zh_TW") in list(app.core.voice.requested)[since:], 5, "繁體 prompt")
    app.go_home("finished")



def test_without_a_loudspeaker_the_resident_sees_no_error(app):
    """The audio device unplugged: prompts are asked for as always, nothing is played, no
    message covers the screen, 朗读 and the volume control still answer."""
    from devices.base import State
    audio = sink(app)
    audio.set_status(State.DISCONNECTED, "no sound card: /proc/asound/cards lists none", "no_sound_card")
    try:
        played = len(audio.played)
        since = mark(app)
        app.begin_session()
        app.show("identify")
        on_screen(app, "identify")
        current(app).show_error("read_failed")
        tap(app.header.ids.read_aloud_button)
        tap(app.header.ids.volume_button)
        pump_for(0.5)
        assert {"screen.identify", "card.read_failed", "text", "volume.changed"} <= set(asked(app)[since:])
        assert len(audio.played) == played and app.overlay is None and app.manager.current == "identify"
        assert app.core.device_statuses()["audio"]["state"] == "disconnected"
    finally:
        audio.set_status(State.READY)
        app.go_home("finished")
