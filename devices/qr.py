"""QR and barcode scanning: camera frames (zxing-cpp or pyzbar) and hardware scanners.

Decoding camera frames: grey, downscaled to ``max_width`` (960 px measured
best for pyzbar: 63 ms -> 21 ms per 1080p frame with the same hit rate for
phone-sized codes), then the backend.  zxing-cpp is the default backend: it is
faster and returns the raw bytes, so UTF-8 and GBK Chinese payloads come out
right; pyzbar is kept as the alternative (``devices.qr_scanner.backend``).

zbar's Chinese problem: for a QR code without an ECI marker zbar guesses the
charset (SJIS first) and hands back its guess re-encoded as UTF-8, so "粤"
arrives as "邊､".  :func:`repair_zbar_text` undoes that when the round trip
(encode with the guessed charset, decode as UTF-8) is exact.  GBK payloads
cannot be recovered that way; the zxing backend decodes them from the raw
bytes.

Hardware scanners: serial (a pyserial port, lines ending in CR or LF, UTF-8
or GB18030) and HID keyboard wedge (reads the Linux evdev device directly and
grabs it, so scanned keystrokes never type into the kiosk UI).  Each
publishes ``qr.scanned`` {text, symbology}.  The simulated scanner is the
serial driver talking to a scanner simulator on a pty.
"""
from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import time
from dataclasses import dataclass

import cv2
import numpy as np

from devices.base import Device, DeviceError, State
from common.events import EventBus


DEFAULT_MAX_WIDTH = 960
# What the live camera path looks for: what residents hold up (QR on phones and
# paper, Code 128 / EAN-13 on receipts and slips).  Every extra linear format
# costs zxing-cpp several ms per frame; still images (CLI) try every format.
CAMERA_SYMBOLOGIES = ("qrcode", "code128", "ean13")
ZBAR_GUESSES = ("shift_jis", "cp932", "big5", "latin-1")


@dataclass(frozen=True)
class Decoded:
    text: str
    symbology: str          # normalised: "qrcode", "ean13", "code128", "datamatrix", ...


def _symbology(name: str) -> str:
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return {"i25": "itf", "qrcodemodel2": "qrcode"}.get(key, key)


def repair_zbar_text(text: str) -> str:
    """Undo zbar's wrong charset guess for UTF-8 payloads without ECI."""
    if text.isascii():
        return text
    for guess in ZBAR_GUESSES:
        try:
            raw = text.encode(guess)
            repaired = raw.decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if repaired != text and not repaired.isascii():
            return repaired
    return text


def bytes_to_text(raw: bytes, fallback: str) -> str:
    """Raw payload bytes to text: UTF-8 if valid, else GB18030, else ``fallback``."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        return fallback
    return text if re.search(r"[\u3400-\u9fff]", text) else fallback


def decode_zxing(gray: np.ndarray, symbologies: tuple[str, ...] | None = None) -> list[Decoded]:
    import zxingcpp

    formats = {"qrcode": zxingcpp.BarcodeFormat.QRCode, "code128": zxingcpp.BarcodeFormat.Code128,
               "ean13": zxingcpp.BarcodeFormat.EAN13, "datamatrix": zxingcpp.BarcodeFormat.DataMatrix,
               "pdf417": zxingcpp.BarcodeFormat.PDF417}
    kwargs = {"formats": [formats[s] for s in symbologies]} if symbologies else {}
    out = []
    for result in zxingcpp.read_barcodes(gray, **kwargs):
        # ]Q2/]Q4/]Q6: the QR code carries an ECI, so zxing's text is authoritative.
        has_eci = result.symbology_identifier in ("]Q2", "]Q4", "]Q6")
        text = result.text if has_eci else bytes_to_text(bytes(result.bytes), result.text)
        out.append(Decoded(text, _symbology(str(result.format))))
    return out


def decode_pyzbar(gray: np.ndarray, symbologies: tuple[str, ...] | None = None) -> list[Decoded]:
    from pyzbar import pyzbar

    known = {"qrcode": pyzbar.ZBarSymbol.QRCODE, "code128": pyzbar.ZBarSymbol.CODE128,
             "ean13": pyzbar.ZBarSymbol.EAN13, "pdf417": pyzbar.ZBarSymbol.PDF417}
    symbols = [known[s] for s in symbologies if s in known] if symbologies else None  # zbar: no DataMatrix
    out = []
    for symbol in pyzbar.decode(gray, symbols=symbols):
        text = symbol.data.decode("utf-8", errors="replace")
        out.append(Decoded(repair_zbar_text(text), _symbology(symbol.type)))
    return out


BACKENDS = {"zxing": decode_zxing, "pyzbar": decode_pyzbar}


def to_grey(frame: np.ndarray, max_width: int | None = DEFAULT_MAX_WIDTH) -> np.ndarray:
    gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if max_width and gray.shape[1] > max_width:
        scale = max_width / gray.shape[1]
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return gray


def decode_frame(frame: np.ndarray, backend: str = "zxing", max_width: int | None = DEFAULT_MAX_WIDTH,
                 symbologies: tuple[str, ...] | None = CAMERA_SYMBOLOGIES) -> list[Decoded]:
    """One camera frame: grey, downscaled, decoded (live path, fixed cost)."""
    return BACKENDS[backend](to_grey(frame, max_width), symbologies)


def decode_image(image: np.ndarray, backend: str = "zxing") -> list[Decoded]:
    """A still picture, every format: downscaled first, full size if that found nothing."""
    found = decode_frame(image, backend, symbologies=None)
    if not found and image.shape[1] > DEFAULT_MAX_WIDTH:
        found = decode_frame(image, backend, max_width=None, symbologies=None)
    return _unique(found)


def _unique(items: list[Decoded]) -> list[Decoded]:
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


# -- hardware scanners ---------------------------------------------------------

# AIM symbology identifiers (ISO/IEC 15424) that scanners can be set to prefix.
AIM_PREFIXES = {"Q": "qrcode", "C": "code128", "E": "ean13", "d": "datamatrix", "L": "pdf417", "A": "code39",
                "I": "itf", "z": "aztec"}


def parse_scanner_line(raw: bytes) -> Decoded:
    """One scanner line: text, and the symbology when an AIM prefix ("]Q1") leads it."""
    text = bytes_to_text(raw, raw.decode("latin-1"))
    match = re.match(r"\](\w)(\w)", text)
    if match and match.group(1) in AIM_PREFIXES:
        return Decoded(text[3:], AIM_PREFIXES[match.group(1)])
    return Decoded(text, "unknown")


class SerialScanner(Device):
    """A scanner on a serial port (USB-CDC or RS-232) sending one line per scan."""

    kind = "qr_scanner"
    poll_interval = 0.0          # _poll blocks on the port itself
    max_line = 4096

    def __init__(self, role: str, bus: EventBus | None, port: str, baud: int = 9600):
        super().__init__(role, bus)
        self.port, self.baud = port, baud
        self._serial = None
        self._buffer = b""

    def _connect(self) -> None:
        import serial

        if not self.port:
            raise DeviceError("devices.qr_scanner.port is empty: set the scanner's serial port", "no_port")
        try:
            self._serial = serial.serial_for_url(self.port, self.baud, timeout=0.2)
        except serial.SerialException as exc:
            raise DeviceError(f"serial port {self.port}: {exc.strerror or exc}", "no_device") from exc
        self._buffer = b""

    def _poll(self) -> None:
        chunk = self._serial.read(256)   # SerialException on unplug -> DISCONNECTED, reconnect
        if not chunk:
            return
        self._buffer += chunk
        *lines, self._buffer = re.split(rb"\r\n|\r|\n", self._buffer)
        if len(self._buffer) > self.max_line:
            self.set_status(State.WARNING, f"scanner sent {len(self._buffer)} bytes without a line end; "
                            "set its suffix to CR or LF", "no_terminator")
            self._buffer = b""
        for line in lines:
            if line.strip():
                scanned = parse_scanner_line(line.strip())
                self.publish("qr.scanned", text=scanned.text, symbology=scanned.symbology)

    def _disconnect(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None


class ScannerSimulator:
    """A serial barcode scanner on a pty: ``scan(text)`` sends what a real one sends."""

    def __init__(self, encoding: str = "utf-8", suffix: bytes = b"\r"):
        self.encoding, self.suffix = encoding, suffix
        self._master, slave = os.openpty()
        self.port = os.ttyname(slave)
        self._slave = slave   # held open so the pty stays alive between driver reconnects

    def scan(self, text: str, encoding: str | None = None) -> None:
        os.write(self._master, text.encode(encoding or self.encoding) + self.suffix)

    def close(self) -> None:
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


class SimulatedSerialScanner(SerialScanner):
    """The real serial driver reading from a :class:`ScannerSimulator`."""

    def __init__(self, role: str, bus: EventBus | None, simulator: ScannerSimulator | None = None):
        self.simulator = simulator or ScannerSimulator()
        super().__init__(role, bus, self.simulator.port, 9600)

    def scan(self, text: str, encoding: str | None = None) -> None:
        self.simulator.scan(text, encoding)

    def close(self) -> None:
        super().close()
        self.simulator.close()


# Linux evdev: struct input_event { struct timeval; __u16 type; __u16 code; __s32 value; }
EVENT = struct.Struct("llHHi")
EV_KEY = 1
EVIOCGRAB = 0x40044590
_KEYS = {
    2: "1!", 3: "2@", 4: "3#", 5: "4$", 6: "5%", 7: "6^", 8: "7&", 9: "8*", 10: "9(", 11: "0)",
    12: "-_", 13: "=+", 16: "qQ", 17: "wW", 18: "eE", 19: "rR", 20: "tT", 21: "yY", 22: "uU", 23: "iI",
    24: "oO", 25: "pP", 26: "[{", 27: "]}", 30: "aA", 31: "sS", 32: "dD", 33: "fF", 34: "gG", 35: "hH",
    36: "jJ", 37: "kK", 38: "lL", 39: ";:", 40: "'\"", 41: "`~", 43: "\\|", 44: "zZ", 45: "xX", 46: "cC",
    47: "vV", 48: "bB", 49: "nN", 50: "mM", 51: ",<", 52: ".>", 53: "/?", 57: "  ",
}
_SHIFT = {42, 54}
_ENTER = {28, 96}   # KEY_ENTER, KEY_KPENTER
KEY_CHARS = {chars[0]: (code, False) for code, chars in _KEYS.items()} | \
            {chars[1]: (code, True) for code, chars in _KEYS.items() if chars[1] != chars[0]}


class HidScanner(Device):
    """A keyboard-wedge scanner read from its evdev node (US layout, Enter ends a scan).

    Keyboard wedges can only type what a keyboard can: ASCII.  Chinese
    payloads need a serial (USB-CDC) scanner.
    """

    kind = "qr_scanner"
    poll_interval = 0.0

    def __init__(self, role: str, bus: EventBus | None, path: str):
        super().__init__(role, bus)
        self.path = path
        self._fd: int | None = None
        self._shift = False
        self._chars: list[str] = []
        self._pending = b""

    def _connect(self) -> None:
        if not self.path:
            raise DeviceError("devices.qr_scanner.port is empty: set /dev/input/by-id/...-event-kbd", "no_port")
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise DeviceError(f"input device {self.path}: {exc.strerror}", "no_device") from exc
        if self.path.startswith("/dev/input/"):
            try:
                fcntl.ioctl(self._fd, EVIOCGRAB, 1)   # keep the scan out of the kiosk UI
            except OSError as exc:
                self.set_status(State.WARNING, f"input device {self.path}: cannot grab ({exc.strerror}); "
                                "scans may also type into the screen", "not_grabbed")
        self._shift, self._chars, self._pending = False, [], b""

    def _poll(self) -> None:
        ready, _, _ = select.select([self._fd], [], [], 0.2)
        if not ready:
            return
        data = os.read(self._fd, EVENT.size * 64)
        if not data and not self.path.startswith("/dev/input/"):
            # A FIFO with no writer reads as EOF: wait instead of spinning.
            time.sleep(0.05)
            return
        data = self._pending + data
        usable = len(data) - len(data) % EVENT.size
        self._pending = data[usable:]
        for offset in range(0, usable, EVENT.size):
            _, _, etype, code, value = EVENT.unpack_from(data, offset)
            if etype == EV_KEY:
                self._key(code, value)

    def _key(self, code: int, value: int) -> None:
        if code in _SHIFT:
            self._shift = value != 0
        elif value == 0:
            return                                   # key release
        elif code in _ENTER:
            if self._chars:
                self.publish("qr.scanned", text="".join(self._chars), symbology="unknown")
            self._chars = []
        elif code in _KEYS:
            self._chars.append(_KEYS[code][1 if self._shift else 0])

    def _disconnect(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def hid_events(text: str) -> bytes:
    """The evdev bytes a keyboard-wedge scanner produces for ``text`` + Enter."""
    out, now = [], time.time()
    sec, usec = int(now), int(now % 1 * 1e6)

    def key(code: int, value: int) -> None:
        out.append(EVENT.pack(sec, usec, EV_KEY, code, value))

    for char in text:
        if char not in KEY_CHARS:
            raise ValueError(f"a keyboard wedge cannot type {char!r}")
        code, shifted = KEY_CHARS[char]
        if shifted:
            key(42, 1)
        key(code, 1)
        key(code, 0)
        if shifted:
            key(42, 0)
    key(28, 1)
    key(28, 0)
    return b"".join(out)


class CameraQrScanner(Device):
    """Decodes QR codes held up to a camera; one ``qr.scanned`` per code shown."""

    kind = "qr_scanner"
    poll_interval = 0.05
    repeat_after_s = 2.0         # the same code again only after it left the view this long

    def __init__(self, role: str, bus: EventBus | None, camera, backend: str = "zxing"):
        super().__init__(role, bus)
        if backend not in BACKENDS:
            raise DeviceError(f"unknown QR backend {backend!r} (zxing | pyzbar)", "bad_backend")
        self.camera, self.backend = camera, backend
        self._seq = 0
        self._last_seen: dict[str, float] = {}

    def open(self) -> None:
        self.camera.open()
        super().open()

    def close(self) -> None:
        super().close()
        self.camera.close()

    def _connect(self) -> None:
        status = self.camera.status
        if not status.usable:
            raise DeviceError(f"scanner camera: {status.reason or status.state.value}", status.code or "no_camera")

    def _poll(self) -> None:
        if not self.camera.status.usable:
            raise DeviceError(f"scanner camera: {self.camera.status.reason}", self.camera.status.code or "lost")
        seq, frame = self.camera.latest()
        if frame is None or seq == self._seq:
            return
        self._seq = seq
        now = time.monotonic()
        for item in decode_frame(frame, self.backend):
            last = self._last_seen.get(item.text)
            self._last_seen[item.text] = now
            if last is None or now - last > self.repeat_after_s:
                self.publish("qr.scanned", text=item.text, symbology=item.symbology)
        self._last_seen = {t: s for t, s in self._last_seen.items() if now - s <= self.repeat_after_s}


# -- registry factories -----------------------------------------------------

def create_serial(role: str, section, config, bus: EventBus) -> SerialScanner:
    return SerialScanner(role, bus, section.port, section.baud)


def create_hid(role: str, section, config, bus: EventBus) -> HidScanner:
    return HidScanner(role, bus, section.port)


def create_camera(role: str, section, config, bus: EventBus) -> CameraQrScanner:
    from devices.camera import Camera

    if not section.source:
        raise DeviceError(f"{role}: driver camera needs devices.{role}.source (index, /dev/videoN or file)",
                          "no_source")
    return CameraQrScanner(role, bus, Camera(f"{role}.camera", bus, section.source, 1280, 720), section.backend)


def create_simulated(role: str, section, config, bus: EventBus) -> SimulatedSerialScanner:
    return SimulatedSerialScanner(role, bus)
