"""KioskCore: the one object the screens talk to.

Data flows one way: devices and the platform publish into the core (through
the :class:`~devices.events.EventBus`), the core keeps state, and the screens
read it and call its methods.  Screens never touch hardware or the network.
Nothing here imports Kivy, so the CLIs and tests drive the same code.
"""
from __future__ import annotations

import logging
from pathlib import Path

from devices import registry
from devices.base import Device
from devices.events import EventBus
from kiosk import printer_offsets
from kiosk.config import Config
from kiosk.menu import Menu
from kiosk.menu_store import MenuStore
from kiosk.platform import PlatformClient
from kiosk.session import Session, SessionFiles
from kiosk.workflow import report_prints
from offline_queue.outbox import Outbox
from offline_queue.sender import Sender

log = logging.getLogger(__name__)


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

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        """Open every configured device; each reports its own status."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.session_files.prepare()  # wipe what a crash left, before anything else
        self.devices = registry.build_all(self.config, self.bus)
        printer_offsets.apply_saved(self.config, self.devices)  # maintenance-mode calibration
        for device in self.devices.values():
            device.open()
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
        self.session_files.release()
        if self.heartbeat is not None:
            self.heartbeat.stop()
            self.heartbeat = None
        self.menus.stop()
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
        if self.session is not None:
            self.session.wipe()
            self.session = None
            self.bus.publish("session.ended")
