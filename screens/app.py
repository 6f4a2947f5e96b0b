"""The kiosk App: one window, a header, lazily built screens, idle handling.

Threads: devices and the platform publish on the :class:`~common.events.EventBus`
from their own threads.  The app subscribes once and re-posts every event to
the Kivy main thread with ``Clock.schedule_once``; screens receive them in
``on_bus_event`` and never touch hardware themselves.

Navigation: ``app.show(name, **params)`` builds the screen from
:data:`SCREENS` on first use, calls its ``prepare(**params)`` and switches to
it.  Transaction screens added later slot in the same way.  The steps of a
service are the core's (``KioskCore.start_service`` / ``next_step``); the app
only shows the screen of each step.  When a session ends every screen forgets
the resident (``KioskScreen.wipe``).
"""
from __future__ import annotations

import importlib
import logging
import math
import os
import threading
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import FadeTransition, ScreenManager

from common.events import Event
from kiosk import i18n
from kiosk.config import Config
from kiosk.session import IdleTimer
from screens.profile import production_profile
from screens.theme import register_fonts, theme

if TYPE_CHECKING:
    from kiosk.core import KioskCore
    from kiosk import menu as menu_model

log = logging.getLogger(__name__)

# Keys a resident's keyboard (or a stray USB keyboard) must not act on:
# Escape, F1 (settings), F11/F12 (keybinding module: fullscreen, screenshot).
BLOCKED_KEYS = {27: "escape", 282: "F1", 292: "F11", 293: "F12"}
CORNER_TAPS = 5            # hidden technician gesture: 5 taps ...
CORNER_SIZE_PX = 120       # ... in the top-left corner ...
CORNER_WINDOW_S = 3.0      # ... within 3 seconds
IDLE_TICK_S = 0.25

# Screen name -> "module:Class"; screens are imported and built on first use.
# Other teams add theirs here (e.g. "maintenance": "screens.maintenance:MaintenanceScreen").
SCREENS: dict[str, str] = {
    "home": "screens.home:HomeScreen",
    "category": "screens.category:CategoryScreen",
    "guide": "screens.guide:GuideScreen",
    "identify": "screens.identify:IdentifyScreen",
    "eid": "screens.eid:EidScreen",
    "maintenance": "screens.maintenance:MaintenanceScreen",
    # the resident transaction flow (docs/flow.md)
    "face": "screens.face:FaceScreen",
    "form": "screens.form:FormScreen",
    "materials": "screens.materials:MaterialsScreen",
    "sign": "screens.sign:SignScreen",
    "delivery": "screens.delivery:DeliveryScreen",
    "confirm": "screens.confirm:ConfirmScreen",
    "result": "screens.result:ResultScreen",
    "rating": "screens.rating:RatingScreen",
    "print_document": "screens.print_document:PrintDocumentScreen",
    "query": "screens.query:QueryScreen",
    "my_applications": "screens.my_applications:MyApplicationsScreen",
    "supplement": "screens.supplement:SupplementScreen",
    "appeal": "screens.appeal:AppealScreen",
}


class KioskRoot(FloatLayout):
    """Header + screen manager; overlays (countdown, help) are added on top."""


class KioskApp(App):
    title = "市民之窗"
    language = StringProperty(i18n.DEFAULT_LANGUAGE)
    session_active = BooleanProperty(False)
    centre_name = StringProperty("")
    connectivity = StringProperty("online")
    core_ready = BooleanProperty(False)   # devices, queue and menu started (in the background)
    volume_step = NumericProperty(0)      # the header's volume control (kiosk/voice), reset per session
    use_kivy_settings = False
    __events__ = ("on_maintenance_gesture",)

    def __init__(self, config: Config, tour_dir: str | None = None, core: "KioskCore | None" = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.kiosk_config = config
        self.production = production_profile(config)
        self._core = core
        self._core_lock = threading.Lock()
        self.tour_dir = Path(tour_dir) if tour_dir else None
        screenshot_dir = os.environ.get("KIOSK_SCREENSHOT_DIR")
        self.screenshot_dir = Path(screenshot_dir) if screenshot_dir else None
        self.exit_code = 0
        self.idle: IdleTimer | None = None
        self.menu_glance = None   # kiosk.menu_glance.MenuGlance: home tiles until the core is ready
        self.history: list[tuple[str, dict]] = []
        self.screen_shown_at = 0.0
        self._corner_taps: list[float] = []
        self._overlay = None
        self._unsubscribe = None
        self._started_core = False
        self._core_thread: threading.Thread | None = None
        self._shot_seq = 0
        self._running = False  # True once the window is up (screenshots need a drawn frame)

    # -- building ---------------------------------------------------------
    def build_config(self, config) -> None:
        """No per-app ini file: the kiosk's settings live in kiosk.toml only."""

    def get_application_config(self, defaultpath="%(appdir)s/%(appname)s.ini"):
        return str(self.kiosk_config.data_dir / "kivy" / "app.ini")

    def build(self):
        from kiosk import menu_glance   # json only: the categories of the last verified menu, first frame
        self.menu_glance = menu_glance.load(self.kiosk_config.data_dir)
        register_fonts()
        from screens.widgets import HeaderBar, load_kv
        load_kv()

        display = self.kiosk_config.display
        self.set_language(display.language)
        theme.elder = display.elder_mode_default
        self.volume_step = self.kiosk_config.voice.volume
        theme.fit_window(*Window.size)
        Window.bind(size=lambda _w, size: theme.fit_window(*size))
        Window.clearcolor = theme.background
        theme.bind(background=lambda _t, colour: setattr(Window, "clearcolor", colour))
        Window.bind(on_request_close=self._on_request_close, on_keyboard=self._on_keyboard)
        # bind, not fbind: the Window (global) holds the method weakly, so an app that has
        # stopped (the UI tests run several in one process) does not live on through it
        Window.bind(on_touch_down=self._on_any_touch)

        self.root_layout = KioskRoot()
        column = BoxLayout(orientation="vertical")
        self.header = HeaderBar()
        self.manager = ScreenManager(transition=FadeTransition(duration=0.15))
        column.add_widget(self.header)
        column.add_widget(self.manager)
        self.root_layout.add_widget(column)
        self.show("home")
        return self.root_layout

    def _start_core(self) -> None:
        """Worker thread: open devices, the queue and the menu (about a second of I/O and
        imports) while the home screen is already on the glass."""
        try:
            # Subscribe before starting the core so no device or menu event is missed.
            self._unsubscribe = self.core.bus.subscribe("", self._on_bus_event_threaded)
            self.core.start()
        except Exception:
            log.exception("kiosk core failed to start; services stay unavailable")
        Clock.schedule_once(lambda _dt: setattr(self, "core_ready", True), 0)

    @property
    def core(self) -> "KioskCore":
        """The kiosk core, built on first use: importing it (platform client, crypto, menu
        store) costs ~0.15 s, kept off the first frame; the start-up thread builds it."""
        with self._core_lock:
            if self._core is None:
                from kiosk.core import KioskCore
                self._core = KioskCore(self.kiosk_config)
            return self._core

    @property
    def session(self):
        """The current resident's Session, or None (never builds the core)."""
        return self._core.session if self._core is not None else None

    @property
    def menu(self) -> "menu_model.Menu | None":
        """The verified service menu in force (the core applies updates between sessions)."""
        return self._core.menu if self._core is not None else None

    def on_start(self) -> None:
        self._running = True
        self._started_core = True
        # Started once the first frame is on the glass: its imports (devices, queue, crypto) would
        # otherwise hold the GIL while the home screen builds (issue 18; tiles come from the glance).
        self._core_thread = threading.Thread(target=self._start_core, name="core-start", daemon=True)
        Window.bind(on_flip=self._start_core_after_first_frame)
        Clock.schedule_interval(self._tick_idle, IDLE_TICK_S)
        if self.tour_dir is not None:
            from screens.tour import Tour
            self.tour = Tour(self, self.tour_dir)  # kept: the Clock holds methods weakly
            self.tour.start()

    def _start_core_after_first_frame(self, *_args) -> None:
        Window.unbind(on_flip=self._start_core_after_first_frame)
        if self._started_core and self._core_thread is not None and self._core_thread.ident is None:
            self._core_thread.start()

    def on_stop(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Wipe any session and stop devices; safe to call twice."""
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self._started_core:
            self._started_core = False
            if self._core_thread is not None and self._core_thread.ident is not None:
                self._core_thread.join()
            if self._core is not None:
                self._core.stop()

    @property
    def centre_display_name(self) -> str:
        """The centre's name in the UI language (繁體 screens: ``centre_name_zh_tw``)."""
        return self.kiosk_config.centre_name_for(self.language)

    # -- hardening ----------------------------------------------------------
    def open_settings(self, *args) -> bool:
        return False  # F1 must never show Kivy's settings panel to a resident

    def _on_request_close(self, *_args, **_kwargs) -> bool:
        if self.production:
            log.warning("window close request refused (production profile)")
            return True
        return False

    def _on_keyboard(self, _window, key, *_args) -> bool:
        self.touch_activity()
        if key in BLOCKED_KEYS:
            log.info("blocked key %s", BLOCKED_KEYS[key])
            return True
        return False

    # -- navigation ---------------------------------------------------------
    def screen(self, name: str):
        """The screen called ``name``, built from SCREENS on first use."""
        if not self.manager.has_screen(name):
            module_name, _, class_name = SCREENS[name].partition(":")
            cls = getattr(importlib.import_module(module_name), class_name)
            self.manager.add_widget(cls(name=name))
        return self.manager.get_screen(name)

    def show(self, name: str, remember: bool = True, **params) -> None:
        screen = self.screen(name)
        screen.prepare(**params)
        if name == "home":
            self.history.clear()
        elif remember and (not self.history or self.history[-1][0] != name):
            self.history.append((name, params))
        self.manager.current = name
        self.screen_shown_at = time.monotonic()
        log.info("screen %s", name)
        prompt = screen.entry_prompt()
        if prompt and self._core is not None:   # every screen's entry is spoken (kiosk/voice)
            self._core.speak(prompt)
        if self.screenshot_dir is not None and self._running:
            Clock.schedule_once(lambda _dt: self.save_screenshot(self.screenshot_dir, name), 0.5)

    def back(self) -> None:
        if self.history:
            self.history.pop()
        if self.history:
            name, params = self.history[-1]
            self.show(name, remember=False, **params)
        else:
            self.go_home("back")

    def go_home(self, reason: str = "finished") -> None:
        """End the resident's session (wiping it) and return to the attract screen."""
        self.close_overlay()
        if self.core.session is not None:
            log.info("session ended (%s)", reason)
        self.core.end_session()
        for screen in self.manager.screens:
            screen.wipe()
        self.session_active = False
        self.idle = None
        display = self.kiosk_config.display
        if reason in ("timeout", "finished"):  # the next resident starts from the defaults
            self.set_language(display.language)
            theme.elder = display.elder_mode_default
        self._sync_voice()   # the core reset volume and voice on/off when the session ended
        self.show("home")

    def finish_session(self) -> None:
        """The 结束 button."""
        self.go_home("finished")

    # -- session and idle ---------------------------------------------------
    def begin_session(self) -> None:
        """Start a resident session on their first meaningful tap (if none yet)."""
        if self.core.session is None:
            self.core.begin_session(language=self.language, elder_mode=theme.elder)
            self.session_active = True
        self._new_idle_timer()

    def _new_idle_timer(self) -> None:
        s = self.kiosk_config.session
        factor = s.elder_timeout_factor if theme.elder else 1.0
        self.idle = IdleTimer(idle_s=s.idle_timeout_s * factor, countdown_s=s.countdown_s * factor)

    def _on_any_touch(self, _window, touch) -> bool:
        self.touch_activity()
        return self._count_corner_tap(touch)

    def touch_activity(self) -> None:
        if self.idle is not None:
            self.idle.touch()

    def _tick_idle(self, _dt) -> None:
        if self.idle is None or self.session is None:
            return
        if self.core.busy_for_resident:
            self.idle.touch()   # waiting for the kiosk is not inactivity: the timer holds
        state = self.idle.tick()
        if state == "active":
            if self._overlay is not None and self._overlay.__class__.__name__ == "CountdownOverlay":
                self.close_overlay()
        elif state == "countdown":
            self.show_countdown(math.ceil(self.idle.remaining()))
        else:
            self.go_home("timeout")

    def show_countdown(self, seconds: int) -> None:
        from screens.widgets import CountdownOverlay
        if self._overlay is None or not isinstance(self._overlay, CountdownOverlay):
            self.open_overlay(CountdownOverlay(continue_action=self.continue_session,
                                               finish_action=self.finish_session))
            self.core.speak("idle.countdown")
        self._overlay.seconds = seconds

    def continue_session(self) -> None:
        self.touch_activity()
        self.close_overlay()

    def open_overlay(self, widget) -> None:
        self.close_overlay()
        self._overlay = widget
        self.root_layout.add_widget(widget)

    def close_overlay(self) -> None:
        if self._overlay is not None:
            if self._overlay.parent:
                self._overlay.parent.remove_widget(self._overlay)
            self._overlay = None

    @property
    def overlay(self):
        return self._overlay

    # -- language and elder mode ----------------------------------------------
    def set_language(self, language: str) -> None:
        i18n.set_language(language)
        theme.language = language
        self.language = language
        self.centre_name = self.centre_display_name
        if self.session is not None:
            self.session.language = language

    def toggle_elder_mode(self) -> None:
        theme.elder = not theme.elder
        if self.session is not None:
            self.session.elder_mode = theme.elder
            self._new_idle_timer()
        self._sync_voice()

    # -- voice guidance (the core's speaker; docs/ui.md "Voice") ---------------------
    def _sync_voice(self) -> None:
        """长辈模式 turns prompts on by default; the header shows the core's volume."""
        if self._core is not None and self._core.voice is not None:
            self._core.set_voice(elder=theme.elder)
            self.volume_step = self._core.voice.volume
        else:
            self.volume_step = self.kiosk_config.voice.volume

    def on_core_ready(self, _app, ready: bool) -> None:
        if ready:
            self._sync_voice()
        if ready and self.screenshot_dir is not None:  # the home screen now shows the menu
            Clock.schedule_once(
                lambda _dt: self.save_screenshot(self.screenshot_dir, self.manager.current), 0.5)

    def read_aloud(self) -> None:
        """🔊 朗读: the current screen's texts (the guide's on the guide screen), in a worker."""
        self.touch_activity()
        overlay = self._overlay
        lines = [] if overlay is None else [w.text for w in overlay.walk(restrict=True)
                                           if hasattr(w, "text") and isinstance(w.text, str) and w.text.strip()]
        self.core.read_aloud(lines or self.manager.current_screen.spoken_lines())

    def cycle_volume(self) -> None:
        """音量: the next step (after the loudest, the quietest); prompts are on from now,
        and the resident hears the new level at once."""
        from kiosk.voice.speaker import VOLUME_STEPS_DB
        self.volume_step = self.core.set_volume((int(self.volume_step) + 1) % len(VOLUME_STEPS_DB))
        self.core.set_voice(on=True)
        self.core.speak("volume.changed", force=True)

    def show_help(self, state: str | None = None) -> None:
        """One-touch help: plain words for this screen; the core asks for staff, and the panel
        says staff were notified only once the platform has the request (screens/help_panel.py).
        ``state``: only show the panel in that state, asking no one (the tour)."""
        from screens.help_panel import HelpPanel
        current = self.manager.current_screen
        panel = HelpPanel(help_text=current.help_text)
        self.open_overlay(panel)
        if state is None:
            panel.ask(self.core, current.name)
        else:
            panel.advance(state)

    # -- services -------------------------------------------------------------
    def availability(self, service) -> tuple[bool, str]:
        """Whether ``service`` can be started on this kiosk now, with the reason in plain words."""
        from kiosk import menu as menu_model   # imported by the core by now; kept off the first frame
        ok, reason = menu_model.availability(service, self.core.device_statuses(), self.connectivity)
        return ok, menu_model.text(reason, self.language) if reason else ""

    def start_service(self, service) -> None:
        """开始办理: the core plans the steps from the service's guide; show the first."""
        self.begin_session()
        self.show_step(self.core.start_service(service))

    def card_read(self, card) -> str | None:
        """The ID reader read a card on the identify screen: the core keeps it in the
        session and the next step follows; returns why the card cannot be used, if so."""
        self.begin_session()
        problem = self.core.identify(card)
        if problem is None:
            Clock.schedule_once(self._after_card, 1.0)  # let the resident see the greeting
        return problem

    def _after_card(self, _dt) -> None:
        if self.core.session is None or self.manager.current != "identify":
            return  # wiped or moved on meanwhile
        if self.core.transaction is not None:
            self.show_step(self.core.next_step())
        elif self.menu is not None and self.menu.categories:
            self.show("category", category_id=self.menu.categories[0].id)

    def show_step(self, step: str) -> None:
        """Show the screen for a transaction step; steps without a screen go to a counter."""
        if step in SCREENS:
            self.show(step, service_id=self.core.session.service_id if self.core.session else None)
            return
        log.warning("no screen registered for transaction step %s", step)
        from screens.widgets import MessagePanel, icon, tr
        self.open_overlay(MessagePanel(
            title=tr("请到人工窗口继续办理"),
            body=tr("本机暂不能完成此业务的下一步。您的信息不会保存在本机，请到人工窗口继续办理。"),
            icon_source=icon("unavailable"), primary_text=tr("结束办理"),
            primary_action=self.finish_session, secondary_text=tr("返回"),
            secondary_action=self.close_overlay))

    # -- events from worker threads -------------------------------------------
    def _on_bus_event_threaded(self, event: Event) -> None:
        Clock.schedule_once(partial(self._dispatch_event, event), 0)

    def _dispatch_event(self, event: Event, _dt=None) -> None:
        if event.topic == "queue.connectivity" and "state" in event.data:
            self.connectivity = str(event.data["state"])
        for screen in self.manager.screens:
            screen.on_bus_event(event)
        if hasattr(self._overlay, "on_bus_event"):  # the help panel hears of its request
            self._overlay.on_bus_event(event)

    # -- the hidden technician gesture ------------------------------------------
    def _count_corner_tap(self, touch) -> bool:
        """Five taps in the top-left corner within 3 s fire ``on_maintenance_gesture``."""
        if touch.x > CORNER_SIZE_PX or touch.y < Window.height - CORNER_SIZE_PX:
            self._corner_taps.clear()
            return False
        now = time.monotonic()
        self._corner_taps = [t for t in self._corner_taps if now - t < CORNER_WINDOW_S] + [now]
        if len(self._corner_taps) >= CORNER_TAPS:
            self._corner_taps.clear()
            self.dispatch("on_maintenance_gesture")
        return False

    def on_maintenance_gesture(self) -> None:
        """Default: open the "maintenance" screen when it is registered in SCREENS.

        The resident's session is wiped first: a technician never sees it.
        """
        if "maintenance" in SCREENS:
            self.go_home("maintenance")
            self.show("maintenance")

    # -- screenshots -------------------------------------------------------------
    def save_screenshot(self, directory: Path, label: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self._shot_seq += 1
        path = directory / f"{self._shot_seq:03d}-{label}.png"
        self.root_layout.export_to_png(str(path))  # independent of the X screen size
        return path
