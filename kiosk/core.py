"""KioskCore: the one object the screens talk to.

Data flows one way: devices and the platform publish into the core (through
the :class:`~common.events.EventBus`), the core keeps state, and the screens
read it and call its methods.  Screens never touch hardware or the network:
every resident use case is a method here (identify, verify the face, capture,
submit, receipts, licences, queries, appeals, ratings, help), and each one that
waits for a device or the platform returns a :class:`~concurrent.futures.Future`
at once.  While such work runs the core is :attr:`busy_for_resident` (the idle
timer holds: waiting is never timed out).  Nothing here imports Kivy, so the
CLIs and tests drive the same code.

``devices``, ``platform``, ``sender`` and ``outbox`` are the core's collaborators
for kiosk-side services (maintenance, heartbeat); screens never use them
(``tests/test_layers.py``).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

from devices import registry
from devices.base import Device
from common.events import EventBus
from kiosk import contact, counter_slip, eid, licences, memory, printer_offsets, receipts, workflow
from kiosk.background import run_in_thread
from kiosk.capture import Captures
from kiosk.config import Config
from kiosk import i18n
from kiosk.help import HelpDesk
from kiosk.menu import Menu
from kiosk.menu_store import MenuStore
from kiosk.platform import FinalError, PlatformClient, PresenceRequired
from kiosk.session import Session, SessionFiles
from kiosk.transaction import IDENTIFY, Transaction
from kiosk.workflow import report_prints
from offline_queue.outbox import Outbox
from offline_queue.sender import Sender

log = logging.getLogger(__name__)


class ApplicationNotFound(LookupError):
    """The platform does not know this application number (yet: one still in this
    kiosk's queue is known only after it was delivered)."""


class NoReceiptPrinter(RuntimeError):
    code = "no_printer"


class KioskCore:
    def __init__(self, config: Config, bus: EventBus | None = None):
        self.config = config
        self.bus = bus or EventBus()
        self.data_dir: Path = config.data_dir
        self.devices: dict[str, Device] = {}
        self.session: Session | None = None
        self.session_files = SessionFiles(config)  # RAM-only, leftovers of a crash wiped on first use
        self.platform = None   # kiosk.platform.PlatformClient; set before start() to override
        self.outbox = None     # offline_queue.outbox.Outbox, opened in start()
        self.sender = None     # offline_queue.sender.Sender, the delivery thread
        self.menus = MenuStore(config, self.bus)  # verified menu updates, applied between sessions
        self.heartbeat = None  # kiosk.heartbeat.Heartbeat, health reports to the platform
        self.transaction: Transaction | None = None  # the steps of the service being done
        self.captures = Captures(self.devices)
        self.voice = None      # kiosk.voice.speaker.Speaker, started with the devices
        self._resident_work = 0
        self._work_lock = threading.Lock()
        self._maintenance = None  # kiosk.maintenance.Maintenance, made when a technician first enters
        self.help_desk = HelpDesk(self)  # 帮助: requests to staff through the queue (kiosk.help)
        memory.configure()   # large image buffers in their own mappings (issue 18)

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        """Open every configured device; each reports its own status."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.session_files.prepare()  # wipe what a crash left, before anything else
        self.devices = registry.build_all(self.config, self.bus)
        printer_offsets.apply_saved(self.config, self.devices)  # maintenance-mode calibration
        self.captures = Captures(self.devices)
        for device in self.devices.values():
            device.open()
        from kiosk.voice import runtime as voice_runtime
        self.voice = voice_runtime.for_core(self)
        self.voice.start()
        self._start_queue()
        report_prints(self)  # licence jobs settled before a crash or restart
        self.menus.load()
        self.menus.start_polling(self.platform)
        if self.config.heartbeat.enabled:
            from kiosk.heartbeat import Heartbeat
            self.heartbeat = Heartbeat.for_core(self)
            self.heartbeat.start()

    def _start_queue(self) -> None:
        """Open the outbox (recovering from any crash) and start delivering it."""
        if self.platform is None:
            self.platform = PlatformClient.from_config(self.config)
        self.outbox = Outbox.from_config(self.config)
        self.sender = Sender.from_config(self.config, self.outbox, self.platform, self.bus)
        self.sender.start()

    def stop(self) -> None:
        self.end_session()
        self.help_desk.stop_watching()
        self.session_files.release()
        self.captures.stop()
        if self.heartbeat is not None:
            self.heartbeat.stop()
            self.heartbeat = None
        self.menus.stop()
        if self.voice is not None:
            self.voice.stop()
        if self.sender is not None:
            self.sender.stop()
            self.outbox.close()
            self.sender = self.outbox = None
        for device in self.devices.values():
            device.close()

    @property
    def menu(self) -> Menu | None:
        """The menu residents see now (None only if no valid menu was ever installed)."""
        return self.menus.menu

    def device_statuses(self) -> dict[str, dict[str, str]]:
        return {role: d.status.as_dict() for role, d in self.devices.items()}

    # -- the resident session -------------------------------------------
    def begin_session(self, language: str = "zh_CN", elder_mode: bool = False) -> Session:
        self.end_session()
        self.session = Session(temp_root=self.session_files.root, language=language,
                               elder_mode=elder_mode)
        self.bus.publish("session.started")
        return self.session

    def end_session(self) -> None:
        """Wipe the resident's data; called on 结束, idle timeout and maintenance entry."""
        self.captures.stop()
        self.transaction = None
        if self.voice is not None:
            self.voice.reset()   # volume and voice on/off back to the kiosk's defaults
        if self.session is not None:
            self.session.wipe()
            self.session = None
            self.bus.publish("session.ended")
            memory.trim_soon()   # its images are freed: glibc's held pages go back (issue 18)

    # -- background work for the resident ---------------------------------
    @property
    def busy_for_resident(self) -> bool:
        """Work the resident waits for is running (submitting, printing, checking the
        face, asking the platform): the idle timer must not count this time."""
        with self._work_lock:
            return self._resident_work > 0

    def _for_resident(self, work: Callable[[], Any], name: str) -> Future:
        """Run ``work`` in a worker; busy until it ends."""
        with self._work_lock:
            self._resident_work += 1

        def tracked() -> Any:
            try:
                return work()
            finally:
                with self._work_lock:
                    self._resident_work -= 1
        return run_in_thread(tracked, name)

    # -- the service's steps ------------------------------------------------
    def start_service(self, service) -> str:
        """开始办理: plan the steps from the service's guide; returns the first step
        (identification is skipped when the card was read already, 刷身份证办理)."""
        self.session.service_id = service.id
        self.transaction = Transaction(service)
        if (self.transaction.current == IDENTIFY and self.session.card is not None
                and not self.card_fields_missing(service)):  # an e-ID lacking what the form takes: read the card
            self.transaction.advance()
        return self.transaction.current

    def next_step(self) -> str | None:
        """The step after the current one (None outside a service)."""
        return self.transaction.advance() if self.transaction is not None else None

    def at_step(self, step: str) -> None:
        """The resident is on ``step`` (also after 返回)."""
        if self.transaction is not None and step in self.transaction.steps:
            self.transaction.index = self.transaction.steps.index(step)

    # -- identification ------------------------------------------------------
    def identify(self, card, today: dt.date | None = None) -> str | None:
        """The reader read ``card`` for the resident of the current session: keep it
        there (the log redactor masks its name from now on).  Returns an ``idcard.error``
        code when it cannot be used ("expired"), else None."""
        if card.expired(today or dt.date.today()):
            return "expired"
        if eid.is_eid(self.session.card) and self.session.card.id_number != card.id_number:
            self.session.presence_grant = None   # the e-ID's grant is another resident's
        self.session.set_card(card)
        return None

    def identify_by_eid(self, text: str) -> Future:
        """电子身份证: the platform verifies the scanned e-ID code; on success the session holds the
        identity it carries (like a card read) and its presence grant.  The future answers the
        identity, or raises :class:`kiosk.eid.EidNotAccepted` (``.code``: why, for plain words)."""
        if self.session is None:
            self.begin_session()
        session, platform = self.session, self.platform
        return self._for_resident(lambda: eid.identify(platform, session, text), "identify-eid")

    def card_fields_missing(self, service) -> list[str]:
        """Card fields ``service`` takes from the card that the session's e-ID lacks ([] after a card read)."""
        return eid.card_fields_missing(service, self.session.card if self.session else None)

    def start_face_capture(self) -> bool:
        """人证核验: the live capture starts (``face.*`` events); False: no camera."""
        return self.captures.start_face()

    def stop_face_capture(self) -> None:
        self.captures.stop_face()

    def verify_face(self, face_jpeg: bytes) -> Future:
        """The platform compares ``face_jpeg`` with the card; the future answers True on a
        match (and the session is marked verified).  The image stays in memory only."""
        session, platform = self.session, self.platform
        session.face_image = face_jpeg
        card = session.card

        def check() -> bool:
            answer = platform.verify_identity(card.to_public_dict(), card.photo_wlt or None, face_jpeg)
            session.identity_verified = bool(answer.get("match"))
            # the proof of presence the platform asks before it shows this resident's records
            session.presence_grant = answer.get("presence_grant") if session.identity_verified else None
            return session.identity_verified
        return self._for_resident(check, "identity-verify")

    def counter_slip(self) -> Future:
        """转人工 (no face check): print a slip with a random reference and no personal data
        (:mod:`kiosk.counter_slip`); the future answers a ``HandOff`` (``printed`` False on a
        printer fault: the screen shows the reference).  The screen then ends the session."""
        session, printer = self.session, self.devices.get("receipt_printer")
        service = self.transaction.service if self.transaction is not None else None
        return self._for_resident(lambda: counter_slip.hand_off(self.config, session, service, printer),
                                  "counter-slip")

    # -- 高拍仪 -----------------------------------------------------------------
    def reusable_materials(self) -> Future:
        """材料复用: the set of material ids the platform already holds for this resident
        (empty without a presence grant: 材料复用 needs 人证核验)."""
        session, platform = self.session, self.platform
        if session is None or session.presence_grant is None:
            return _answered(set())
        grant = session.presence_grant
        return self._for_resident(lambda: {m["material_id"] for m in platform.reusable_materials(grant)},
                                  "reusable-materials")

    def contact_on_record(self) -> Future:
        """材料复用 of contact details: ``{"phone": …, "address": …}`` (only those the platform
        holds) that the resident gave before, for the form to offer masked; kept in the session
        only (wiped with it).  Empty without a presence grant, or when the platform cannot say."""
        session, platform = self.session, self.platform
        if session is None or session.presence_grant is None:
            return _answered({})
        return self._for_resident(lambda: contact.on_record(platform, session), "contact-on-record")

    def start_document_scan(self, material_id: str) -> bool:
        """Scan pages of one material (``document.*`` events); False: no document camera."""
        return self.session is not None and self.captures.start_scan(self.session, material_id)

    def stop_document_scan(self) -> None:
        self.captures.stop_scan()

    def capture_page(self) -> None:
        self.captures.capture_page()

    def discard_last_page(self) -> list[Path]:
        return self.captures.discard_last_page(self.session)

    def record_scanned_pages(self) -> list[Path]:
        """After ``document.captured``: the material's pages, now in the session."""
        return self.captures.record_pages(self.session)

    def camera_preview(self, role: str):
        """What a live preview draws from: the camera's ``latest()`` frames, or None."""
        camera = self.devices.get(role)
        return camera if camera is not None and hasattr(camera, "latest") else None

    # -- submitting ------------------------------------------------------------
    def submit_application(self) -> Future:
        """确认提交: queue the session's application and wait briefly for the platform;
        the future answers a :class:`~kiosk.workflow.SubmitResult` (or raises
        QueueFullError: this kiosk cannot store it safely)."""
        session, service = self.session, self.transaction.service

        def submit() -> workflow.SubmitResult:
            result = workflow.submit_application(self, session, service)
            session.application["submit_result"] = result
            return result
        return self._for_resident(submit, "submit-application")

    def print_receipt(self) -> Future:
        """Print the receipt of the submitted application (again, for 重新打印凭条).  The
        outcome is recorded in ``Session.application`` (``receipt_printed``,
        ``receipt_error``); the future raises the printer's error (``.code``)."""
        session, service = self.session, self.transaction.service
        printer = self.devices.get("receipt_printer")
        data = receipts.receipt_data(self.config, session, service, session.application["submit_result"])

        def print_it() -> None:
            try:
                if printer is None:
                    raise NoReceiptPrinter("no receipt printer configured")
                printer.print_receipt(data)
            except Exception as exc:
                session.application.update(receipt_printed=False,
                                           receipt_error=getattr(exc, "code", None) or "printer_error")
                raise
            session.application.update(receipt_printed=True, receipt_error=None)
        return self._for_resident(print_it, "print-receipt")

    def rate(self, level: int, comment: str = "") -> Future:
        """好差评 of the session's application (queued behind it while it is queued)."""
        session = self.session
        application = session.application.get("submit_result") or session.application.get("application_no")
        service_id = session.service_id
        return self._for_resident(
            lambda: workflow.submit_rating(self, application, level, comment, service_id=service_id),
            "submit-rating")

    def file_appeal(self, category: str, text: str, contact_phone: str | None = None) -> Future:
        """诉求: the future answers a SubmitResult (``response["appeal_no"]`` when delivered)."""
        return self._for_resident(lambda: workflow.submit_appeal(self, category, text, contact_phone),
                                  "submit-appeal")

    # -- licences and queries ------------------------------------------------------
    def printable_documents(self, pickup_code: str | None = None) -> Future:
        """证照打印: the resident's documents that can be printed, under the session's presence
        grant (人证核验), or -- with no grant yet -- a receipt's pickup code together with the
        card read here obtains one (通办通取: any kiosk).  Raises PresenceRequired without either."""
        session, platform = self.session, self.platform

        def look_up() -> list:
            if session.presence_grant is None and pickup_code and session.card is not None:
                session.presence_grant = platform.grant_by_pickup(pickup_code, session.card.id_number)
            if session.presence_grant is None:
                raise PresenceRequired("no presence grant in this session", None)
            return licences.printable(platform.query_documents(session.presence_grant))
        return self._for_resident(look_up, "query-documents")

    def print_licence(self, summary: dict) -> Future:
        """Print one document of :meth:`printable_documents`, once per print token."""
        session = self.session
        return self._for_resident(lambda: licences.print_licence(self, session, summary), "print-document")

    def my_applications(self) -> Future:
        """办件查询 by the card: ``[{"title", "application_no"}]`` of the resident's applications
        the platform lists (those that issue a document), each number once."""
        session, platform = self.session, self.platform
        if session is None or session.presence_grant is None:
            return _answered([])
        grant = session.presence_grant

        def look_up() -> list[dict]:
            seen, mine = set(), []
            for doc in platform.query_documents(grant):
                number = doc.get("application_no")
                if number and number not in seen:
                    seen.add(number)
                    mine.append({"title": doc.get("title", ""), "application_no": number})
            return mine
        return self._for_resident(look_up, "query-by-card")

    def resident_applications(self) -> Future:
        """我的办件: the future answers a :class:`kiosk.my_applications.MyApplications` -- the
        platform's list for the resident present (``online``) and what this kiosk still holds
        for them in its queue; raises PresenceRequired without the session's presence grant."""
        from kiosk import my_applications
        session = self.session
        return self._for_resident(lambda: my_applications.list_for_resident(self, session), "my-applications")

    def start_supplement(self, application: dict) -> str | None:
        """补交 from 我的办件: a transaction scanning exactly what ``application`` (an entry of
        :meth:`resident_applications`) still owes; returns the first step, or None when nothing
        can be handed in any more (past its deadline, or no longer needed)."""
        from kiosk import supplements
        owed = supplements.owed_now(application)
        if self.session is None or not owed:
            return None
        try:
            service = self.menu.service(application.get("service_id", ""))
        except (AttributeError, KeyError):  # a service this kiosk's menu no longer lists
            service = supplements.unlisted_service(application)
        self.transaction = supplements.SupplementTransaction(
            service, application_no=application["application_no"], owed=owed)
        return self.transaction.current

    def submit_supplement(self) -> Future:
        """Hand in the scans of the supplement transaction through the queue; the future answers a
        SubmitResult (``response["results"]``: per material, when the platform answered in time)."""
        from kiosk import supplements
        session, transaction = self.session, self.transaction
        return self._for_resident(lambda: supplements.submit_supplement(self, session, transaction),
                                  "submit-supplement")

    def application_status(self, number: str) -> Future:
        """办件进度: the platform's status of ``number`` (the applicant's, present: the session's
        presence grant); raises ApplicationNotFound, or PresenceRequired without a grant."""
        platform, grant = self.platform, self.session.presence_grant if self.session else None

        def look_up() -> dict:
            if grant is None:
                raise PresenceRequired("no presence grant in this session", None)
            try:
                return platform.application_status(number, grant)
            except FinalError as exc:
                if getattr(exc, "status", None) == 404:
                    raise ApplicationNotFound(number) from None
                raise
        return self._for_resident(look_up, "application-status")

    # -- maintenance -----------------------------------------------------------------
    def maintenance(self):
        """维护模式 for the technician at the machine (:class:`kiosk.maintenance.Maintenance`):
        PIN gate, overview, self-test, test prints, queue retry, calibration, enrolment."""
        if self._maintenance is None:
            from kiosk.maintenance import Maintenance
            self._maintenance = Maintenance(self)
        return self._maintenance

    # -- voice guidance (kiosk/voice; docs/ui.md "Voice") ---------------------------
    def speak(self, prompt_id: str, interrupt: bool = True, force: bool = False) -> bool:
        """Say fixed prompt ``prompt_id`` in the UI language, in the voice worker; False when
        prompts are off or the voice is not started yet.  Never blocks."""
        return self.voice is not None and self.voice.speak(prompt_id, i18n.language(), interrupt, force)

    def read_aloud(self, text: str | list[str]) -> bool:
        """朗读 ``text`` or its lines (a screen's texts, a guide) in the voice worker; lines
        that could carry the resident's name, ID number, phone or address are not spoken.
        False when nothing was left to say."""
        return self.voice is not None and self.voice.say(text, i18n.language())

    def set_volume(self, step: int) -> int:
        """The resident's volume step (0 quietest); reset when the session ends."""
        return self.voice.set_volume(step) if self.voice is not None else step

    def set_voice(self, on: bool | None = None, elder: bool | None = None) -> None:
        """Automatic prompts on/off (the resident's choice), or 长辈模式 (on by default)."""
        if self.voice is not None:
            if elder is not None:
                self.voice.elder = elder
            if on is not None:
                self.voice.set_enabled(on)

    @property
    def voice_enabled(self) -> bool:
        return self.voice is not None and self.voice.enabled

    # -- help ----------------------------------------------------------------------
    def ask_for_help(self, screen: str) -> Future:
        """One-touch 帮助 (kiosk.help): ring the local bell, queue a request for staff (no personal
        data) and wait briefly; the future answers ``(request_id, state)`` -- ``delivered`` only once
        the platform acknowledged receipt, else ``pending`` or ``failed``.  Later news (delivered,
        staff acknowledged) comes as ``help.state`` events until :meth:`end_help`."""
        self.bus.publish("ui.help_requested", "core", screen=screen)
        return self._for_resident(lambda: self.help_desk.ask(screen), "ask-for-help")

    def end_help(self) -> None:
        """The help panel closed: stop watching for news (the request is still delivered)."""
        self.help_desk.stop_watching()


def _answered(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future
