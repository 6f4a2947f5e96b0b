"""Bootstrap of the Kivy layer: configure Kivy safely, then run the app.

Kivy reads its configuration when ``kivy.core`` is first imported, so this
module imports nothing from Kivy at module level: :func:`configure_kivy` sets
the environment and ``kivy.config.Config`` first (kiosk hardening, window
size, logging through Python's ``logging`` so the redaction filter sees Kivy's
messages too), and only then is :mod:`screens.app` (``KioskApp``) imported.
"""
from __future__ import annotations

import logging
import os

from kiosk import logs
from kiosk.config import Config
from screens.profile import production_profile

log = logging.getLogger(__name__)

def configure_kivy(config: Config) -> None:
    """Set Kivy's environment and Config; must run before any ``kivy.core`` import."""
    os.environ["KIVY_NO_ARGS"] = "1"               # argv cannot reconfigure a kiosk
    os.environ["KIVY_LOG_MODE"] = "PYTHON"         # Kivy logs -> logging -> redaction
    if "KIVY_HOME" not in os.environ:  # Kivy creates KIVY_HOME but not its parents
        config.data_dir.mkdir(parents=True, exist_ok=True)
        os.environ["KIVY_HOME"] = str(config.data_dir / "kivy")
    from kivy.config import Config as KivyConfig

    production = production_profile(config)
    KivyConfig.set("kivy", "exit_on_escape", "0")
    KivyConfig.set("kivy", "keyboard_mode", "system")
    KivyConfig.set("kivy", "log_enable", "0")
    for module in KivyConfig.options("modules"):   # inspector, keybinding (F11/F12), monitor...
        KivyConfig.remove_option("modules", module)
    KivyConfig.set("graphics", "multisamples", "0")
    KivyConfig.set("graphics", "maxfps", "30")
    if production:
        KivyConfig.set("graphics", "fullscreen", "auto")
        KivyConfig.set("graphics", "borderless", "1")
        KivyConfig.set("graphics", "show_cursor", "0")
        KivyConfig.set("input", "mouse", "mouse,disable_on_activity")
    else:
        KivyConfig.set("graphics", "fullscreen", "0")
        KivyConfig.set("graphics", "width", str(config.display.width))
        KivyConfig.set("graphics", "height", str(config.display.height))
        KivyConfig.set("graphics", "show_cursor", "1")
    KivyConfig.set("graphics", "resizable", "0" if production else "1")


def kick_from_kivy_clock(watchdog):
    """Kick from the Kivy main loop every ``kick_interval`` seconds, so a frozen loop stops the
    kicks.  Returns the ClockEvent (``.cancel()`` to stop), or None when systemd asked for no
    watchdog.  Call once, from the app's ``on_start``."""
    if not watchdog.enabled or not watchdog.kick_interval:
        return None
    from kivy.clock import Clock  # imported here: this module configures Kivy before loading it
    watchdog.kick()
    return Clock.schedule_interval(lambda _dt: watchdog.kick(), watchdog.kick_interval)


def watch_main_loop(app) -> None:
    """systemd watchdog (kiosk.service, Type=notify): READY=1 once the first
    screen is built, then WATCHDOG=1 from the Kivy clock -- a frozen main loop
    stops the kicks and systemd restarts the kiosk.  No-op outside systemd."""
    from kiosk.watchdog import Watchdog

    watchdog = Watchdog.from_env()

    def started(*_args) -> None:
        watchdog.ready(f"serving as {app.kiosk_config.kiosk.id}")
        kick_from_kivy_clock(watchdog)
    app.fbind("on_start", started)
    app.fbind("on_stop", lambda *_args: watchdog.stopping())


def wipe_on_crash(app) -> None:
    """An unhandled exception on the UI thread wipes the resident's session before the
    app dies and systemd restarts it (not after a shutdown that may hang); see kiosk.session."""
    from kivy.base import ExceptionHandler, ExceptionManager

    from kiosk.session import wipe_after_crash

    class WipeSession(ExceptionHandler):
        def handle_exception(self, exception):
            if app.session is not None:
                wipe_after_crash(app.core)
            return ExceptionManager.RAISE
    ExceptionManager.add_handler(WipeSession())


def run(config: Config, tour_dir: str | None = None) -> int:
    """Run the kiosk until it is stopped; with ``tour_dir``, visit every screen and exit."""
    logs.setup(config.data_dir / "logs", level=config.logging.level,
               max_bytes=config.logging.max_bytes, backups=config.logging.backups)
    configure_kivy(config)
    for key in config.untranslated_centre_names():
        log.warning("config: [kiosk] %s is not set: those screens show centre_name %r", key,
                    config.kiosk.centre_name)
    from screens.app import KioskApp

    app = KioskApp(config, tour_dir=tour_dir)
    watch_main_loop(app)
    wipe_on_crash(app)
    try:
        app.run()
    finally:
        app.shutdown()
    return app.exit_code
