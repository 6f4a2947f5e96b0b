"""``kiosk --tour DIR``: visit every screen in every language, in standard
and elder mode, landscape and portrait, and write one PNG per view into DIR.

The tour drives the app through its public navigation (``app.show``,
``set_language``, ``toggle_elder_mode``) and publishes the same bus events the
ID reader would, so what it photographs is what a resident would see.
"""
from __future__ import annotations

import logging
from pathlib import Path

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.screenmanager import NoTransition

from kiosk import i18n
from screens.layout_check import cut_labels, spilled_boxes
from screens.theme import theme

log = logging.getLogger(__name__)

ORIENTATIONS = (("landscape", (1920, 1080)), ("portrait", (1080, 1920)))
SETTLE_S = 0.35   # layout + textures of a freshly shown view


class Tour:
    def __init__(self, app, directory: Path):
        self.app = app
        self.directory = directory
        self.steps = iter(self._plan())
        self.written: list[Path] = []
        self.problems = 0   # labels not shown whole (screens.layout_check)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.app.manager.transition = NoTransition()  # photograph views, not fades
        Clock.schedule_once(self._wait_for_core, 0.5)

    def _wait_for_core(self, _dt=None) -> None:
        if self.app.core_ready:
            self._next()
        else:
            Clock.schedule_once(self._wait_for_core, 0.2)

    def _next(self, _dt=None) -> None:
        try:
            label = next(self.steps)
        except StopIteration:
            log.info("tour: %d screenshots in %s, %d labels not shown whole",
                     len(self.written), self.directory, self.problems)
            self.app.stop()
            return
        except Exception:
            log.exception("tour step failed")
            self.app.exit_code = 1
            self.app.stop()
            return
        Clock.schedule_once(lambda _dt: self._shoot(label), SETTLE_S)

    def _shoot(self, label: str) -> None:
        path = self.directory / f"{len(self.written) + 1:03d}-{label}.png"
        self.app.root_layout.export_to_png(str(path))
        self.written.append(path)
        for problem in cut_labels(self.app.root_layout) + spilled_boxes(self.app.root_layout):
            self.problems += 1
            log.warning("tour: %s: %s", path.name, problem)
        self._next()

    def _plan(self):
        return views(self.app)


def views(app, orientations=ORIENTATIONS, languages=i18n.LANGUAGES, elder_modes=(False, True)):
    """Arrange each view in turn and yield its label (the caller photographs or checks it).

    The tour walks all of them; the UI tests walk a part (``tests/test_ui_resident_views.py``).
    """
    menu = app.menu
    categories = menu.categories if menu is not None else []
    services = [s for c in categories for s in c.services]
    guide_service = max(services, key=lambda s: len(s.guide.get("materials", [])), default=None)
    blocked = next((s for s in services if not app.availability(s)[0]), None)
    for orientation, size in orientations:
        Window.size = size
        for language in languages:
            for elder in elder_modes:
                app.go_home("back")
                app.set_language(language)
                theme.elder = elder
                prefix = f"{orientation}-{language}{'-elder' if elder else ''}"
                yield f"{prefix}-home"
                for category in categories:
                    app.begin_session()
                    app.show("category", category_id=category.id)
                    yield f"{prefix}-category-{category.id}"
                if guide_service is not None:
                    app.show("guide", service_id=guide_service.id)
                    yield f"{prefix}-guide-{guide_service.id}"
                if blocked is not None:
                    app.show("guide", service_id=blocked.id)
                    yield f"{prefix}-guide-unavailable-{blocked.id}"
                app.show("identify", service_id=None)
                yield f"{prefix}-identify"
                app.core.bus.publish("idcard.error", "id_reader", code="read_failed",
                                     message="tour: simulated read failure")
                yield f"{prefix}-identify-error"
                yield from eid_views(app, prefix)
                app.show_countdown(app.kiosk_config.session.countdown_s)
                yield f"{prefix}-countdown"
                app.close_overlay()
                app.show_help(state="pending")  # the longest words; staff are not called by a tour
                yield f"{prefix}-help"
                app.close_overlay()
                yield from tour_views(app, prefix)   # the transaction flow screens
    app.go_home("back")


def eid_views(app, prefix: str):
    """电子身份证: waiting for the QR code, a refused code's plain words, the greeting; and the
    identify screen asking for the card a service needs after an e-ID login (nothing is sent)."""
    from kiosk.eid import EidIdentity, EidNotAccepted
    from kiosk.privacy import mask_name
    from kiosk.samples import sample_card
    from kiosk.transaction import Transaction
    from screens.widgets import tr

    app.begin_session()
    app.show("eid", service_id=None)
    yield f"{prefix}-eid"
    screen = app.screen("eid")
    screen._refused(EidNotAccepted("eid_used"))
    yield f"{prefix}-eid-error"
    screen.status, screen.greeting = "done", tr("{name}，您好").format(name=mask_name(sample_card().name))
    yield f"{prefix}-eid-done"
    menu = app.menu
    service = next((s for c in (menu.categories if menu else []) for s in c.services if s.id == "elderly-card"), None)
    if service is None:
        return
    form = [dict(spec, prefill="card.address") if spec.get("type") == "address" else spec for spec in service.form]
    card = sample_card()
    app.core.session.set_card(EidIdentity(name=card.name, id_number=card.id_number))
    app.core.transaction = Transaction(service.model_copy(update={"form": form}))
    app.show("identify", service_id=service.id)
    yield f"{prefix}-identify-after-eid"
    app.core.transaction = None


def _in_days(days: int) -> str:
    import datetime as dt
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


def supplement_views(app, prefix: str):
    """补交: the document camera for the owed material, then what the platform said (nothing is sent)."""
    from types import SimpleNamespace
    saved = app.core.transaction
    _, answer, _ = next(my_applications_samples())
    app.core.start_supplement(answer.applications[1])
    app.show_step("materials")
    yield f"{prefix}-flow-supplement-materials"
    for label, outcome in (("done", "received"), ("late", "deadline_passed")):  # shown, never sent
        app.show("supplement", remember=False, result=SimpleNamespace(status="submitted", reference="", response={
            "results": [{"material_id": "residence-permit", "outcome": outcome}]}))
        yield f"{prefix}-flow-supplement-{label}"
    app.core.transaction = saved


def my_applications_samples():
    """我的办件 with sample answers (nothing is asked of the platform): the list, one detail, offline."""
    from types import SimpleNamespace
    received = "2026-11-20T02:15:00+00:00"
    promised = {"application_no": "440304202611200000712345", "status": "accepted", "kind": "promised",
                "service_id": "elderly-card", "service_name": "敬老优待证办理", "promised_days": 5,
                "expected_completion": "2026-11-27", "received_at": received,
                "timeline": [{"step": "received", "at": received}], "documents": [],
                "owed": [{"material_id": "residence-permit", "name": "居住证", "deadline": _in_days(14),
                          "status": "awaiting_supplement", "reason": None}]}
    done = {"application_no": "440304202611220000123456", "status": "approved", "kind": "immediate",
            "service_id": "social-insurance-proof-print", "service_name": "社保参保证明打印",
            "promised_days": 0, "expected_completion": "2026-11-22", "received_at": received,
            "timeline": [{"step": "received", "at": received}, {"step": "approved", "at": received}],
            "documents": [{"document_id": "tour", "title": "社会保险参保证明", "print_token": "tour"}]}
    queued = {"reference": "KIOSK-0001-20261122-3F2A9C01", "service_id": "elderly-card",
              "service_name": "敬老优待证办理", "queued_at": "2026-11-22T10:02+08:00", "state": "queued"}
    yield "", SimpleNamespace(online=True, applications=[done, promised], queued=[]), None
    yield "-detail", SimpleNamespace(online=True, applications=[done, promised], queued=[]), promised["application_no"]
    yield "-offline", SimpleNamespace(online=False, applications=[], queued=[queued]), None


def tour_views(app, prefix: str):
    """For ``kiosk --tour``: arrange each flow screen with a sample resident and
    yield its label.  Uses the sample card and the 敬老优待证 service; nothing is
    submitted (the result and rating screens are shown with sample outcomes)."""
    from kiosk.samples import sample_card

    menu = app.menu
    if menu is None:
        return
    try:
        service = menu.service("elderly-card")
    except KeyError:
        return
    app.begin_session()
    session = app.core.session
    session.set_card(sample_card())
    app.core.start_service(service)
    for step in ("face", "form", "materials", "sign", "delivery"):
        app.show_step(step)
        yield f"{prefix}-flow-{step}"
    first_centre = (service.pickup_centres or [{}])[0].get("zh_CN")
    if "pickup" in service.delivery and first_centre:   # 通办通取: the centres, in this language
        delivery = app.manager.get_screen("delivery")
        delivery.choose_method("pickup")
        delivery.choose_centre(first_centre)
        yield f"{prefix}-flow-delivery-pickup"
    session.delivery = {"method": "pickup", "centre": first_centre, "address": None}
    app.show_step("confirm")
    yield f"{prefix}-flow-confirm"
    session.application = {"status": "submitted", "application_no": "440304202611220000123",
                           "reference": "", "receipt": {"expected_completion": "2026-11-29",
                                                        "owed": [{"material_id": "residence-permit",
                                                                  "deadline": _in_days(14)}]},
                           "receipt_printed": False}
    app.show_step("result")
    yield f"{prefix}-flow-result-receipt-failed"
    app.show_step("rating")
    app.manager.get_screen("rating").choose(2)
    yield f"{prefix}-flow-rating"
    app.show("print_document", documents=[{"document_id": "tour", "title": "社会保险参保证明",
                                           "print_token": "tour"}])
    yield f"{prefix}-flow-print_document"
    app.show("query")
    app.manager.get_screen("query").identified = True   # as after 人证核验: 我的办件 is offered
    yield f"{prefix}-flow-query"
    for label, answer, detail in my_applications_samples():
        app.show("my_applications", answer=answer, detail=detail)
        yield f"{prefix}-flow-my_applications{label}"
    yield from supplement_views(app, prefix)
    app.show("appeal")
    app.manager.get_screen("appeal").choose_category("complaint")
    yield f"{prefix}-flow-appeal"
    app.go_home("back")
