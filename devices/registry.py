"""Build device adapters from the ``[devices]`` config.

Each role (``id_reader``, ``camera``, ...) maps driver names to a factory
``factory(role, section, config, bus) -> Device``.  Factories are named by
dotted path and imported only when configured, so a kiosk without a camera
never imports OpenCV.  An unknown driver or a factory that raises gives a
placeholder adapter whose status is DISCONNECTED with the reason -- the app
keeps running.
"""
from __future__ import annotations

import importlib
import logging

from devices.base import Device, State
from common.events import EventBus

log = logging.getLogger(__name__)

# role -> driver -> "module:callable".  Owners of a device add their drivers here.
DRIVERS: dict[str, dict[str, str]] = {
    "id_reader": {
        "sam_serial": "devices.idcard.adapter:create",
        "simulated": "devices.idcard.adapter:create_simulated",
    },
    "camera": {
        "opencv": "devices.camera:create",
        "simulated": "devices.camera:create_simulated",
    },
    "document_camera": {
        "opencv": "devices.camera:create",
        "simulated": "devices.camera:create_simulated",
    },
    "qr_scanner": {
        "serial": "devices.qr:create_serial",
        "hid": "devices.qr:create_hid",
        "camera": "devices.qr:create_camera",
        "simulated": "devices.qr:create_simulated",
    },
    "receipt_printer": {
        "usb": "devices.printers.receipt:create",
        "serial": "devices.printers.receipt:create",
        "network": "devices.printers.receipt:create",
        "file": "devices.printers.receipt:create",
        "simulated": "devices.printers.receipt:create_simulated",
    },
    "licence_printer": {
        "cups": "devices.printers.licence:create",
        "file": "devices.printers.licence:create",
        "simulated": "devices.printers.licence:create",
    },
    "audio": {
        "alsa": "devices.audio:create_alsa",
        "pipe": "devices.audio:create_pipe",
        "simulated": "devices.audio:create_simulated",
    },
}


class UnavailableDevice(Device):
    """Stands in for a device that could not be built; says why forever."""

    def __init__(self, role: str, bus: EventBus, reason: str, code: str):
        super().__init__(role, bus)
        self._reason, self._code = reason, code

    def open(self) -> None:
        self.set_status(State.DISCONNECTED, self._reason, self._code)

    def close(self) -> None:
        pass


def _load(spec: str):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def build(role: str, config, bus: EventBus) -> Device:
    section = getattr(config.devices, role)
    driver = section.driver
    if not section.enabled:
        return UnavailableDevice(role, bus, "disabled in config", "disabled")
    spec = DRIVERS.get(role, {}).get(driver)
    if spec is None:
        known = ", ".join(sorted(DRIVERS.get(role, {})))
        return UnavailableDevice(role, bus, f"unknown driver {driver!r} (known: {known})", "bad_driver")
    try:
        return _load(spec)(role, section, config, bus)
    except Exception as exc:  # a broken driver must not stop the kiosk
        log.exception("device %s: driver %s failed to start", role, driver)
        return UnavailableDevice(role, bus, f"driver {driver} failed to start: {exc}", "driver_failed")


def build_all(config, bus: EventBus) -> dict[str, Device]:
    return {role: build(role, config, bus) for role in DRIVERS}
