"""``kioskctl selftest`` and the maintenance screen's self-test: one check per
device and service, each PASS / WARN / FAIL / SKIP with a reason a technician
can act on.

Checks use the devices they are given: the running app passes its own (a
serial port must have one owner), ``kioskctl selftest`` builds them from the
config -- except a real SAM reader, which it opens directly to read the SAM id
(stop the kiosk service first, or run the self-test from maintenance mode).
Every check is blocking; call ``run`` from a worker thread in the app.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Callable

from devices.base import State, wait_for
from kiosk import __version__
from kiosk.platform import AuthError, PlatformError
from kiosk.heartbeat import free_disk_mb

log = logging.getLogger(__name__)

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
SKEW_WARN_S = 120.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    reason: str = ""


def _device_state(device, wait_s: float) -> CheckResult | None:
    """FAIL/WARN result for a device that is not READY, or None when it is ready."""
    wait_for(lambda: device.status.code != "not_opened", wait_s)
    if device.status.state == State.BUSY:
        wait_for(lambda: device.status.state != State.BUSY, wait_s)
    st = device.status
    what = f"{st.state.value}" + (f" [{st.code}]" if st.code else "") + (f": {st.reason}" if st.reason else "")
    if st.code == "disabled":
        return CheckResult(device.role, SKIP, "disabled in config")
    if not st.usable:
        return CheckResult(device.role, FAIL, what)
    if st.state == State.WARNING:
        return CheckResult(device.role, WARN, what)
    return None


class SelfTest:
    def __init__(self, config, devices: dict, client, *, print_tests: bool = True, wait_s: float = 5.0,
                 sam_direct: bool = False, outbox=None, clock: Callable[[], float] = time.time):
        self.config = config
        self.devices = devices
        self.client = client
        self.print_tests = print_tests
        self.wait_s = wait_s
        self.sam_direct = sam_direct    # no adapter owns the reader's port: talk to it ourselves
        self.outbox = outbox
        self.clock = clock

    def run(self, progress: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
        results = []
        for check in (self.id_reader, self.camera("camera"), self.camera("document_camera"), self.qr_scanner,
                      self.receipt_printer, self.licence_printer, self.audio, *self.platform_checks(), self.queue, self.disk):
            try:
                result = check()
            except Exception as exc:  # a check that crashes is a failed check, not a crashed self-test
                log.exception("self-test check failed unexpectedly")
                result = CheckResult(getattr(check, "__name__", "check"), FAIL, f"{type(exc).__name__}: {exc}")
            results.append(result)
            if progress:
                progress(result)
        return results

    # -- devices ------------------------------------------------------------------
    def id_reader(self) -> CheckResult:
        section = self.config.devices.id_reader
        if not section.enabled:
            return CheckResult("id_reader", SKIP, "disabled in config")
        if self.sam_direct and section.driver == "sam_serial":
            from devices.idcard import protocol
            from devices.idcard.reader import SamReader
            try:
                reader = SamReader.open(section.port, section.baud, timeout=1.0)
            except protocol.IdCardError as exc:
                return CheckResult("id_reader", FAIL, str(exc))
            try:
                reader.sam_status()
                return CheckResult("id_reader", PASS, f"SAM id {reader.sam_id()} on {section.port} @ {section.baud}")
            except (protocol.IdCardError, OSError) as exc:
                return CheckResult("id_reader", FAIL, f"{section.port} @ {section.baud}: {exc}")
            finally:
                reader.close()
        device = self.devices.get("id_reader")
        if device is None:
            return CheckResult("id_reader", FAIL, "no reader adapter")
        problem = _device_state(device, self.wait_s)
        if problem:
            return problem
        sam_id = getattr(device, "sam_id", None)
        if callable(sam_id):
            return CheckResult("id_reader", PASS, f"SAM id {sam_id()}")
        return CheckResult("id_reader", PASS, f"SAM answered its status command ({section.driver})")

    def camera(self, role: str) -> Callable[[], CheckResult]:
        def check() -> CheckResult:
            device = self.devices.get(role)
            if device is None or not getattr(self.config.devices, role).enabled:
                return CheckResult(role, SKIP, "disabled in config")
            problem = _device_state(device, self.wait_s)
            if problem:
                return problem
            started = time.monotonic()
            before, _frame = device.latest()
            seq, frame = device.wait_frame(before, self.wait_s)
            if seq <= before or frame is None:
                return CheckResult(role, FAIL, f"no new frame within {self.wait_s:g} s")
            took = (time.monotonic() - started) * 1000
            return CheckResult(role, PASS, f"frame {frame.shape[1]}x{frame.shape[0]} in {took:.0f} ms")
        check.__name__ = role
        return check

    def qr_scanner(self) -> CheckResult:
        device = self.devices.get("qr_scanner")
        if device is None or not self.config.devices.qr_scanner.enabled:
            return CheckResult("qr_scanner", SKIP, "disabled in config")
        return _device_state(device, self.wait_s) or CheckResult("qr_scanner", PASS, "ready")

    def audio(self) -> CheckResult:
        """The loudspeaker of voice guidance: missing is a WARN (the kiosk works on, silent)."""
        device = self.devices.get("audio")
        if device is None or not self.config.devices.audio.enabled:
            return CheckResult("audio", SKIP, "disabled in config")
        problem = _device_state(device, self.wait_s)
        if problem is not None and problem.status == FAIL:
            return CheckResult("audio", WARN, f"voice prompts are silent: {problem.reason}")
        return problem or CheckResult("audio", PASS, "ready")

    def receipt_printer(self) -> CheckResult:
        from devices.printers.cli import sample_receipt

        def print_receipt(device) -> list[str]:
            result = device.print_receipt(sample_receipt(self.config.display.language, self.config))
            return ["test receipt printed"] + result.warnings
        return self._printer("receipt_printer", "test receipt", print_receipt)

    def licence_printer(self) -> CheckResult:
        from kiosk.calibration import print_sheet
        device = self.devices.get("licence_printer")
        if device is not None and hasattr(device, "prepare_fonts"):
            try:   # the one-time font build, here rather than in the first resident's print
                device.prepare_fonts(wait=True)
            except (OSError, FileNotFoundError) as exc:
                return CheckResult("licence_printer", FAIL, f"licence fonts cannot be built: {exc}")
        return self._printer("licence_printer", "test page",
                             lambda device: [f"test page printed ({print_sheet(device, self.config.kiosk.id)})"])

    def _printer(self, role: str, what: str, print_test: Callable) -> CheckResult:
        """Status first; then, if asked, a real print. ``print_test(device)`` returns
        what happened followed by any warnings, and raises PrinterError on failure."""
        from devices.printers.common import PrinterError
        device = self.devices.get(role)
        if device is None or not getattr(self.config.devices, role).enabled:
            return CheckResult(role, SKIP, "disabled in config")
        problem = _device_state(device, self.wait_s)
        if problem and problem.status != WARN:
            return problem
        if not self.print_tests:
            return problem or CheckResult(role, PASS, f"status ready ({what} not printed)")
        try:
            done, *warnings = print_test(device)
        except PrinterError as exc:
            return CheckResult(role, FAIL, f"{what} not printed: [{exc.code}] {exc}")
        if warnings or problem:
            return CheckResult(role, WARN, f"{done}; {', '.join(warnings) or problem.reason}")
        return CheckResult(role, PASS, done)

    # -- services -------------------------------------------------------------------
    def platform_checks(self) -> list[Callable[[], CheckResult]]:
        """Reachability/authentication and clock skew share one heartbeat round trip."""
        outcome: dict = {}

        def platform() -> CheckResult:
            url = self.client.base_url
            payload = {"kiosk_id": self.config.kiosk.id, "version": __version__, "uptime_s": 0.0,
                       "devices": {r: d.status.as_dict() for r, d in self.devices.items()},
                       "free_disk_mb": free_disk_mb(self.config.data_dir)}
            if not self.client.token:
                return CheckResult("platform", FAIL, "no kiosk token: this kiosk is not enrolled (kioskctl enroll)")
            sent = self.clock()
            try:
                reply = self.client.heartbeat(payload)
            except AuthError as exc:
                return CheckResult("platform", FAIL, f"{url} refused this kiosk's token ({exc}): enrol again")
            except PlatformError as exc:
                hint = "" if self.config.platform.url else " (the embedded platform runs only while the app runs)"
                return CheckResult("platform", FAIL, f"{url} not reachable: {exc}{hint}")
            outcome["local"] = (sent + self.clock()) / 2     # our clock at the moment the server answered
            outcome["server_time"] = reply.get("server_time")
            return CheckResult("platform", PASS, f"{url} reachable, kiosk {self.config.kiosk.id} authenticated")

        def clock() -> CheckResult:
            if "server_time" not in outcome:
                return CheckResult("clock", SKIP, "needs the platform check to pass")
            try:
                server = dt.datetime.fromisoformat(str(outcome["server_time"]).replace("Z", "+00:00"))
                if server.tzinfo is None:
                    raise ValueError("no time zone")
            except ValueError:
                return CheckResult("clock", WARN, f"platform sent an unreadable time {outcome['server_time']!r}")
            skew = outcome["local"] - server.timestamp()
            text = f"kiosk clock {'ahead of' if skew > 0 else 'behind'} the platform by {abs(skew):.1f} s"
            if abs(skew) > SKEW_WARN_S:
                return CheckResult("clock", WARN, text + "; menu signatures and expiry depend on it: fix NTP")
            return CheckResult("clock", PASS, text)

        return [platform, clock]

    def queue(self) -> CheckResult:
        if self.outbox is None:
            return CheckResult("queue", SKIP, "no offline queue yet (the app creates it)")
        stats = self.outbox.stats()
        text = f"{stats['depth']} waiting, {stats['dead']} dead letter(s)"
        if stats["dead"]:
            return CheckResult("queue", WARN, text + ": see `kioskctl queue list`")
        return CheckResult("queue", PASS, text)

    def disk(self) -> CheckResult:
        free = free_disk_mb(self.config.data_dir)
        floor = self.config.queue.min_free_mb
        text = f"{free:.0f} MB free in {self.config.data_dir}"
        if free < floor:
            return CheckResult("disk", FAIL, f"{text}, below the {floor} MB the queue needs")
        if free < 2 * floor:
            return CheckResult("disk", WARN, f"{text}, less than twice the queue's {floor} MB floor")
        return CheckResult("disk", PASS, text)


def format_table(results: list[CheckResult]) -> str:
    width = max(len(r.name) for r in results)
    return "\n".join(f"{r.status.upper():<4}  {r.name:<{width}}  {r.reason}" for r in results)


def failed(results: list[CheckResult]) -> bool:
    return any(r.status == FAIL for r in results)
