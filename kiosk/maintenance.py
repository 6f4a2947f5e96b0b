"""What maintenance mode does, without Kivy: a runtime service of the kiosk (the
technician at the machine), reached by the screen (screens/maintenance.py) through
``KioskCore.maintenance()`` like every other use case.

Every action is blocking (the CLIs and tests call them directly); the screen runs
them through :meth:`Maintenance.start`, which answers with a Future.  Each returns
plain data or raises
:class:`MaintenanceError` with one line for the technician; every action is
logged (what was done, never a PIN, token or resident data).
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

from kiosk import __version__
from kiosk import config as cfg
from kiosk import printer_offsets
from kiosk.background import run_in_thread
from kiosk.heartbeat import free_disk_mb
from kiosk.pin import PinGate, PinResult

log = logging.getLogger(__name__)

IDLE_EXIT_S = 180.0      # maintenance left open and unattended goes back to service


class MaintenanceError(Exception):
    """An action that did not work; one line for the technician."""


class Maintenance:
    def __init__(self, core, heartbeat=None, gate: PinGate | None = None):
        self.core = core
        self.config = core.config
        self.heartbeat = heartbeat if heartbeat is not None else getattr(core, "heartbeat", None)
        self.gate = gate or PinGate.from_config(self.config)

    def start(self, action: Callable[[], Any]) -> Future:
        """Run one of the actions below off the caller's thread (the Kivy UI's above all)."""
        return run_in_thread(action, "maintenance-action")

    # -- entry -------------------------------------------------------------------
    def enter(self, pin: str) -> PinResult:
        """Check the PIN (slow KDF: call from a worker thread); wipes any resident session on success."""
        result = self.gate.check(pin)
        if result.ok:
            self.core.end_session()
        return result

    def leave(self) -> None:
        log.info("maintenance mode left, back to service")

    # -- what the technician sees ------------------------------------------------------
    def overview(self) -> dict:
        core = self.core
        sender = getattr(core, "sender", None)
        outbox = getattr(core, "outbox", None)
        menus = getattr(core, "menus", None)
        queue = {"depth": 0, "dead": 0}
        if outbox is not None:
            stats = outbox.stats()
            queue = {"depth": stats["depth"], "dead": stats["dead"]}
        menu = menus.status() if menus is not None else {}
        beat = self.heartbeat
        return {
            "version": __version__,
            "kiosk_id": self.config.kiosk.id,
            "platform": core.platform.base_url if getattr(core, "platform", None) else "",
            "connectivity": sender.connectivity if sender is not None else "unknown",
            "devices": core.device_statuses(),
            "queue": queue,
            "menu_version": menu.get("version"),
            "menu_pending": menu.get("pending_version"),
            "menu_stale": bool(menu.get("stale")),
            "menu_last_check": menu.get("last_check"),
            "heartbeat_last_ok": beat.last_ok if beat is not None else None,
            "heartbeat_error": beat.last_error if beat is not None else "",
            "free_disk_mb": free_disk_mb(self.config.data_dir),
        }

    # -- actions --------------------------------------------------------------------------
    def selftest(self, print_tests: bool = True):
        from kiosk.selftest import SelfTest
        log.info("maintenance: self-test started")
        results = SelfTest(self.config, self.core.devices, self.core.platform, print_tests=print_tests,
                           outbox=getattr(self.core, "outbox", None)).run()
        log.info("maintenance: self-test done: %s",
                 ", ".join(f"{r.name}={r.status}" for r in results))
        return results

    def test_print(self) -> str:
        from devices.printers.cli import sample_receipt
        from devices.printers.common import PrinterError
        printer = self._device("receipt_printer")
        try:
            result = printer.print_receipt(sample_receipt(self.config.display.language, self.config))
        except PrinterError as exc:
            raise MaintenanceError(f"test receipt not printed: [{exc.code}] {exc}") from None
        log.info("maintenance: test receipt printed")
        return "printed" + (f" ({', '.join(result.warnings)})" if result.warnings else "")

    def retry_queue(self) -> int:
        """Give every dead letter another go now; returns how many."""
        outbox = getattr(self.core, "outbox", None)
        if outbox is None:
            raise MaintenanceError("the offline queue is not running")
        dead = outbox.items(states=("dead",))
        for item in dead:
            outbox.retry(item.id)
        sender = getattr(self.core, "sender", None)
        if sender is not None:
            sender.wake()
        log.info("maintenance: %d dead letter(s) queued for another attempt", len(dead))
        return len(dead)

    def print_calibration_sheet(self) -> str:
        from devices.printers.common import PrinterError
        from kiosk.calibration import print_sheet
        printer = self._device("licence_printer")
        try:
            job = print_sheet(printer, self.config.kiosk.id)
        except PrinterError as exc:
            raise MaintenanceError(f"calibration sheet not printed: [{exc.code}] {exc}") from None
        log.info("maintenance: calibration sheet printed (%s)", job)
        return job

    def current_offsets(self) -> tuple[float, float]:
        printer = self.core.devices.get("licence_printer")
        if printer is not None and hasattr(printer, "offset_mm"):
            return tuple(printer.offset_mm)
        section = self.config.devices.licence_printer
        return printer_offsets.load(self.config) or (section.offset_x_mm, section.offset_y_mm)

    def save_calibration(self, measured_left_mm: float, measured_top_mm: float) -> tuple[float, float]:
        """New offsets from the measured sheet: applied to the printer now and saved in the
        app's own calibration file (kiosk.printer_offsets; the config is read-only to the app)."""
        from kiosk.calibration import CalibrationError, corrected_offsets
        try:
            offsets = corrected_offsets(self.current_offsets(), measured_left_mm, measured_top_mm)
        except CalibrationError as exc:
            raise MaintenanceError(str(exc)) from None
        printer = self.core.devices.get("licence_printer")
        if printer is not None and hasattr(printer, "offset_mm"):
            printer.offset_mm = offsets
        try:
            printer_offsets.save(self.config, offsets)
        except OSError as exc:
            raise MaintenanceError(f"offsets {offsets[0]:+.1f}/{offsets[1]:+.1f} mm applied until restart, "
                                   f"but not saved: {exc}") from None
        log.info("maintenance: licence printer offsets set to x=%+.1f y=%+.1f mm", *offsets)
        return offsets

    def enrol_from_qr(self, text: str):
        """Enrol with the platform named in an enrolment QR code (kiosk-enroll:v1?...).

        A production app may not: enrolment rewrites the kiosk's trust (platform URL,
        menu keys), and its config is read-only to it.  The technician is shown the
        host the code names and enrols as root, where ``kioskctl enroll`` asks first."""
        from urllib.parse import urlsplit

        from provisioning.enroll import EnrollError, enroll, parse_enrol_qr
        try:
            qr = parse_enrol_qr(text)
            if self.config.is_production:
                raise MaintenanceError(
                    f"this code enrols with {urlsplit(qr.url).netloc}; the app may not change its own trust: "
                    f"enrol as root with `kioskctl enroll --platform {qr.url} --fingerprint {qr.fingerprint} "
                    "--code <code>`")
            result = enroll(qr.url, qr.code, self._config_file(), expected_fingerprint=qr.fingerprint)
        except EnrollError as exc:
            raise MaintenanceError(str(exc)) from None
        return result

    # -- helpers --------------------------------------------------------------------------
    # -- enrolment QR from the camera ---------------------------------------------------
    def can_scan_enrolment_qr(self) -> bool:
        camera = self.core.devices.get("camera")
        return camera is not None and hasattr(camera, "wait_frame")

    def scan_enrolment_qr(self, stop, timeout_s: float = 60.0, backend: str = "zxing") -> str | None:
        """Decode camera frames until a kiosk enrolment QR code shows up (other codes are
        ignored), ``stop`` is set, or the timeout passes."""
        return scan_camera_for_qr(self._device("camera"), stop, timeout_s, backend)

    def _device(self, role: str):
        device = self.core.devices.get(role)
        if device is None:
            raise MaintenanceError(f"no {role} configured")
        return device

    def _config_file(self) -> Path:
        if self.config.source == cfg.EMBEDDED:
            raise MaintenanceError("this kiosk runs on the embedded defaults; there is no config file to save to "
                                   "(start it with --config FILE)")
        return Path(self.config.source)


def scan_camera_for_qr(camera, stop, timeout_s: float = 60.0, backend: str = "zxing") -> str | None:
    """Decode frames from ``camera`` until a kiosk enrolment QR code shows up
    (other codes are ignored), ``stop`` is set, or the timeout passes."""
    from devices.qr import decode_frame
    from provisioning.enroll import QR_PREFIX
    deadline = time.monotonic() + timeout_s
    seq = 0
    while not stop.is_set() and time.monotonic() < deadline:
        seq, frame = camera.wait_frame(seq, 1.0)
        if frame is None:
            continue
        for decoded in decode_frame(frame, backend):
            if decoded.text.startswith(QR_PREFIX):
                return decoded.text
    return None
