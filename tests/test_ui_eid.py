"""电子身份证 through the real app and the real platform (issue 15, e-ID QR identity).

The resident taps 出示电子身份证二维码 on the home screen and holds the phone's QR code to the
scanner: the simulated serial scanner (the real driver on a pty) sends the code the reference
platform's identity service issued; the e-ID screen hands it to the core, the platform verifies it
and the session starts like a card read.  A service whose guide asks for a face check still goes
to the face screen; a refused code (used, wrong region, some other QR) reads in plain words; a
service that takes the address from the card asks for the card.

Runs under Xvfb; never with KIVY_GL_BACKEND=mock.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui_driver import app_on_the_reference_platform, current, on_screen, pump_for, resident_traces, tap, until

ROOT = Path(__file__).resolve().parent.parent
RESIDENT, NAME = "440304194905120026", "王秀英"


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory):
    with app_on_the_reference_platform(tmp_path_factory.mktemp("eid-ui"), "eid-ui-kiosk") as (app, platform):
        yield app, platform


@pytest.fixture
def app(kiosk):
    return kiosk[0]


def issue(platform, region: str = "440304") -> str:
    """What `central eid issue` prints (the identity service of the reference platform)."""
    from central.eid import EidKey
    return EidKey.for_store(platform.store).issue(RESIDENT, NAME, region, 60.0)[0]


def scan(app, text: str) -> None:
    """The resident holds the phone to the scanner: the simulator sends the line a scanner sends."""
    until(lambda: app.core.devices["qr_scanner"].status.state.value == "ready", 10, "the scanner")
    app.core.devices["qr_scanner"].scan(text)


def shown(screen) -> str:
    from kivy.uix.label import Label
    from tests.ui_driver import walk
    return " ".join(w.text for w in walk(screen) if isinstance(w, Label) and w.text and w.opacity > 0)


def test_home_eid_then_a_service_still_checks_the_face(app, kiosk):
    _, platform = kiosk
    on_screen(app, "home")
    tap(current(app).ids.eid_entry)
    on_screen(app, "eid")
    assert "请出示电子身份证二维码" in shown(current(app))
    scan(app, issue(platform))
    until(lambda: current(app).status == "done", 15, "the e-ID to be verified")
    assert "王*英，您好" in current(app).greeting and NAME not in shown(current(app))
    on_screen(app, "category", 10)
    session = app.core.session
    assert session.card.card_type == "eid" and session.card.id_number == RESIDENT
    assert session.presence_grant and not session.identity_verified
    # 敬老优待证: its guide asks for 人证核验 -- after an e-ID login too
    app.show("guide", service_id="elderly-card")
    on_screen(app, "guide")
    tap(current(app).ids.start)
    on_screen(app, "face", 10)
    assert app.core.session.card.card_type == "eid"
    face = current(app)
    until(lambda: app.manager.current == "form", 40, f"the face checked (face: {face.status})")
    assert app.core.session.identity_verified      # the simulated camera's face, checked by the platform
    form = current(app)
    pump_for(0.3)
    assert form.values["name"] == NAME and form.values["id-number"] == RESIDENT   # prefilled from the e-ID
    tap(form.rows["address"].ids.value)
    assert not [w for w in form.ids.editor.children if "身份证" in getattr(w, "text", "")]  # no card address
    app.go_home("finished")                        # 结束: nothing of the resident stays in the app
    on_screen(app, "home")
    pump_for(0.3)
    traces = resident_traces(app, [RESIDENT, NAME])
    assert not traces, traces


def test_an_eid_held_to_the_scanner_at_home_starts_without_a_tap(app, kiosk):
    _, platform = kiosk
    app.go_home("back")
    on_screen(app, "home")
    scan(app, "https://example.com/not-an-eid")          # some other QR code: home stays as it is
    pump_for(0.5)
    assert app.manager.current == "home" and app.core.session is None
    scan(app, issue(platform))
    on_screen(app, "eid", 10)
    on_screen(app, "category", 15)
    assert app.core.session.card.card_type == "eid" and app.core.session.presence_grant


def test_refused_codes_read_in_plain_words(app, kiosk):
    _, platform = kiosk
    code = issue(platform)
    app.begin_session()
    assert app.core.identify_by_eid(code).result(15)
    app.go_home("back")
    on_screen(app, "home")
    tap(current(app).ids.eid_entry)
    on_screen(app, "eid")
    screen = current(app)
    for text, words in ((code, "这个二维码已经用过了"), (issue(platform, "110105"), "此电子身份证二维码不能在本机使用"),
                        ("https://example.com/pay?order=1", "这不是电子身份证二维码")):
        scan(app, text)
        until(lambda: screen.status == "error" and screen.error_title == words, 15, f"the words {words}")
        assert "eid_" not in shown(screen)
    assert app.core.session.card is None and app.core.session.presence_grant is None
    tap(screen.ids.use_card)                     # 改为刷身份证
    on_screen(app, "identify")


def test_a_service_needing_the_cards_address_asks_for_the_card(app, kiosk):
    from kiosk.transaction import Transaction
    _, platform = kiosk
    service = app.menu.service("elderly-card")
    form = [dict(spec, prefill="card.address") if spec["type"] == "address" else spec for spec in service.form]
    app.begin_session()
    app.core.start_service(service.model_copy(update={"form": form}))
    app.show("identify", service_id="elderly-card")
    on_screen(app, "identify")
    tap(current(app).ids.use_eid)
    on_screen(app, "eid")
    scan(app, issue(platform))
    on_screen(app, "identify", 15)               # the e-ID lacks the address: the card, please
    identify = current(app)
    assert "住址" in identify.card_note and "请刷身份证" in identify.card_note
    assert identify.ids.use_eid.disabled
    assert isinstance(app.core.transaction, Transaction)


def test_every_refusal_has_its_own_plain_words(app):
    """Each reason kiosk.eid can give has words of its own in every language (none falls back)."""
    from kiosk import i18n
    from kiosk.eid import REFUSAL_CODES
    from kiosk.eid import REFUSAL_WORDS
    assert set(REFUSAL_WORDS) == set(REFUSAL_CODES)
    for language in i18n.LANGUAGES:
        app.set_language(language)
        from screens.widgets import tr
        texts = [tr(title) for title, _advice in REFUSAL_WORDS.values()]
        assert len(set(texts)) == len(texts) and not any("eid" in t for t in texts)
        if language != "zh_CN":
            assert all(tr(t) != t for pair in REFUSAL_WORDS.values() for t in pair)
    app.set_language("zh_CN")
