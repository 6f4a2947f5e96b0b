"""``kioskctl detect``: find the devices attached to this machine and propose a
``[devices]`` config for them.

* Serial ports (pyserial's list_ports, plus any given explicitly): each is
  asked for an ESC/POS real-time status first (DLE EOT 1..4, which prints
  nothing), then for the SAM status (``AA AA AA 96 69 00 03 11 FF ED``) at
  115200/57600/38400/19200/9600 baud; a SAM that answers is asked for its id.
  The printer goes first because SAM frames sent to a printer would be
  printed as junk, while a SAM simply ignores bytes that are not a frame.
* Cameras: every /dev/video* that OpenCV opens and reads a frame from, with the
  resolutions it accepts (MJPG first, as the camera driver does).
* USB receipt printers: vendor ids of common ESC/POS makers, or any device with
  a USB printer-class interface, from sysfs.
* CUPS queues (``lpstat -v``) for the A4 licence printer.
"""
from __future__ import annotations

import glob
import re
import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from provisioning.configfile import toml_value

log = logging.getLogger(__name__)

SAM_BAUDS = (115200, 57600, 38400, 19200, 9600)
PRINTER_BAUDS = (9600, 19200, 38400, 115200)
# USB vendor id -> maker, for ESC/POS receipt printers seen in kiosks.
ESCPOS_VENDORS = {
    "04b8": "Epson", "0416": "Xprinter/Winbond", "0fe6": "Zjiang (ICS Advent)", "0483": "Rongta (STM32 bridge)",
    "154f": "SNBC", "1504": "Sewoo/Bixolon", "1d90": "Citizen", "0519": "Star Micronics", "28e9": "GD32 (generic)",
}
USB_PRINTER_CLASS = "07"
CAMERA_SIZES = ((640, 480), (1280, 720), (1920, 1080), (2592, 1944), (3264, 2448))


@dataclass
class Finding:
    role: str                    # "id_reader", "receipt_printer", "camera", "licence_printer", "audio", "serial"
    where: str                   # port, /dev/videoN, VID:PID, CUPS queue
    detail: str                  # what we learned, for the table
    settings: dict = field(default_factory=dict)   # proposed [devices.<role>] keys
    usable: bool = True          # False: seen but not working (shown, not proposed)


# -- serial -------------------------------------------------------------------------
def serial_ports() -> list[str]:
    """Ports pyserial knows about, preferring stable /dev/serial/by-id names."""
    from serial.tools import list_ports

    by_id = {str(Path(p).resolve()): p for p in glob.glob("/dev/serial/by-id/*")}
    return [by_id.get(port.device, port.device) for port in sorted(list_ports.comports())]


def probe_printer(port: str, timeout: float = 0.3) -> Finding | None:
    from devices.printers.escpos_link import SerialLink
    from devices.printers.status import StatusUnavailable, query

    for baud in PRINTER_BAUDS:
        try:
            conn = SerialLink(port, baud)
        except OSError:
            return None
        try:
            state, reason, _code = query(conn, timeout).device_status()
        except (StatusUnavailable, OSError):
            continue
        finally:
            conn.close()
        detail = f"ESC/POS printer at {baud} baud, {state.value}" + (f": {reason}" if reason else "")
        return Finding("receipt_printer", port, detail, {"driver": "serial", "connection": port, "baud": baud})
    return None


def probe_sam(port: str, timeout: float = 0.3) -> Finding | None:
    from devices.idcard import protocol
    from devices.idcard.reader import SamReader

    for baud in SAM_BAUDS:
        try:
            reader = SamReader.open(port, baud, timeout=timeout)
        except protocol.IdCardError:
            return None
        try:
            reader.sam_status()
            sam_id = reader.sam_id()
        except protocol.SamStatusError as exc:
            # A well-formed reply: the reader is there, its SAM is unhappy.
            return Finding("id_reader", port, f"SAM reader at {baud} baud but {exc}",
                           {"driver": "sam_serial", "port": port, "baud": baud}, usable=False)
        except (protocol.ProtocolError, OSError):
            continue
        finally:
            reader.close()
        return Finding("id_reader", port, f"SAM reader at {baud} baud, SAM id {sam_id}",
                       {"driver": "sam_serial", "port": port, "baud": baud})
    return None


def probe_serial(ports: Iterable[str], timeout: float = 0.3) -> list[Finding]:
    findings = []
    for port in ports:
        found = probe_printer(port, timeout) or probe_sam(port, timeout)
        findings.append(found or Finding("serial", port, "no SAM reader or ESC/POS printer answered",
                                         usable=False))
    return findings


# -- cameras ------------------------------------------------------------------------
def _open_camera(path: str):
    import cv2

    cap = cv2.VideoCapture(path, cv2.CAP_V4L2)
    return cap if cap.isOpened() else None


def probe_cameras(paths: Iterable[str] | None = None, open_camera: Callable = _open_camera) -> list[Finding]:
    """Each camera with the sizes it really delivers (set, then read back)."""
    import cv2

    findings = []
    for path in sorted(paths if paths is not None else glob.glob("/dev/video*")):
        cap = open_camera(path)
        if cap is None:
            continue   # metadata nodes and busy devices: not a usable capture device
        try:
            ok, frame = cap.read()
            if not ok or frame is None:
                continue
            sizes = []
            for width, height in CAMERA_SIZES:
                cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
                got = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
                if got == (width, height):
                    sizes.append(got)
        finally:
            cap.release()
        if not sizes:
            sizes = [(frame.shape[1], frame.shape[0])]
        listed = ", ".join(f"{w}x{h}" for w, h in sizes)
        findings.append(Finding("camera", path, f"camera, {listed}", {"driver": "opencv", "source": path,
                                                                       "sizes": sizes}))
    return findings


# -- USB printers ---------------------------------------------------------------------
def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def probe_usb_printers(sysfs: Path = Path("/sys/bus/usb/devices")) -> list[Finding]:
    findings = []
    for device in sorted(sysfs.glob("*")):
        vendor, product = _read(device / "idVendor").lower(), _read(device / "idProduct").lower()
        if not vendor or not product:
            continue   # interfaces and hubs' ports have no ids
        printer_class = any(_read(i / "bInterfaceClass") == USB_PRINTER_CLASS for i in device.glob("*:*"))
        maker = ESCPOS_VENDORS.get(vendor)
        if not maker and not printer_class:
            continue
        name = " ".join(filter(None, (_read(device / "manufacturer"), _read(device / "product"))))
        what = maker or "USB printer-class device"
        findings.append(Finding("receipt_printer", f"{vendor}:{product}",
                                f"{what}" + (f" ({name})" if name else "") + f" on USB {device.name}",
                                {"driver": "usb", "connection": f"0x{vendor}:0x{product}"},
                                # A printer-class device of an unknown maker may be the A4 printer.
                                usable=maker is not None))
    return findings


# -- CUPS ---------------------------------------------------------------------------------
def parse_lpstat(text: str) -> list[tuple[str, str]]:
    """(queue, device URI) pairs from ``lpstat -v``."""
    queues = []
    for line in text.splitlines():
        if line.startswith("device for ") and ": " in line:
            queue, _, uri = line[len("device for "):].partition(": ")
            queues.append((queue.strip(), uri.strip()))
    return queues


def probe_cups(run: Callable = subprocess.run) -> tuple[list[Finding], str]:
    """CUPS queues as licence-printer candidates, and a note when CUPS can't be asked."""
    try:
        result = run(["lpstat", "-v"], capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        return [], "CUPS client (lpstat) not installed"
    except subprocess.TimeoutExpired:
        return [], "CUPS did not answer within 10 s"
    if result.returncode != 0:
        return [], "CUPS: " + (result.stderr.strip().splitlines() or ["lpstat failed"])[-1]
    findings = [Finding("licence_printer", queue, f"CUPS queue → {uri}", {"driver": "cups", "queue": queue})
                for queue, uri in parse_lpstat(result.stdout)]
    return findings, "" if findings else "CUPS has no print queues"


# -- sound cards ----------------------------------------------------------------------------
_ALSA_CARD = re.compile(r"^\s*(\d+)\s+\[(\S+)\s*\]:\s*(.*)$")


def probe_sound_cards(cards: Path = Path("/proc/asound/cards")) -> list[Finding]:
    """ALSA cards (``/proc/asound/cards``) as the voice guidance's loudspeaker; a card's id,
    not its number, names it (numbers change with plug order).  HDMI outputs (a monitor's
    speakers, often silent) are shown but not proposed."""
    findings = []
    for line in _read(cards).splitlines():
        match = _ALSA_CARD.match(line)
        if match:
            number, card_id, name = match.groups()
            findings.append(Finding("audio", f"card {number}", f"{card_id}: {name.strip()}",
                                    {"driver": "alsa", "device": f"plughw:CARD={card_id},DEV=0"},
                                    usable="HDMI" not in name.upper()))
    return findings


# -- the proposal ------------------------------------------------------------------------------
def propose(findings: list[Finding]) -> dict[str, dict]:
    """[devices.<role>] settings: the first usable find per role.

    Two cameras: the one with the largest image becomes the document camera
    (高拍仪 are 5 MP and up), the other faces the resident.  Only the roles
    found are proposed; the rest keep their configured drivers.
    """
    proposal: dict[str, dict] = {}
    for role in ("id_reader", "receipt_printer", "licence_printer", "audio"):
        first = next((f for f in findings if f.role == role and f.usable), None)
        if first:
            proposal[role] = {"enabled": True, **first.settings}
    cameras = [f for f in findings if f.role == "camera" and f.usable]
    cameras.sort(key=lambda f: max(w * h for w, h in f.settings["sizes"]))
    if cameras:
        face = cameras[0]
        size = max((s for s in face.settings["sizes"] if s[0] * s[1] <= 1280 * 720), default=face.settings["sizes"][0],
                   key=lambda s: s[0] * s[1])
        proposal["camera"] = {"enabled": True, "driver": "opencv", "source": face.where,
                              "width": size[0], "height": size[1]}
    if len(cameras) > 1:
        doc = cameras[-1]
        size = max(doc.settings["sizes"], key=lambda s: s[0] * s[1])
        proposal["document_camera"] = {"enabled": True, "driver": "opencv", "source": doc.where,
                                       "width": size[0], "height": size[1]}
    return proposal


def proposal_toml(proposal: dict[str, dict]) -> str:
    lines = ["# Proposed by `kioskctl detect`; merge into the kiosk config (or use --apply)."]
    for role, settings in proposal.items():
        lines += ["", f"[devices.{role}]"] + [f"{k} = {toml_value(v)}" for k, v in settings.items()]
    return "\n".join(lines) + "\n"


def table(findings: list[Finding], proposal: dict[str, dict]) -> str:
    chosen = {(s.get("port") or s.get("connection") or s.get("source") or s.get("queue") or s.get("device")): role
              for role, s in proposal.items()}
    rows = [("FOUND", "WHERE", "DETAILS", "PROPOSED AS")]
    for f in findings:
        role = (chosen.get(f.where) or chosen.get(f.settings.get("connection")) or chosen.get(f.settings.get("device"))
                or ("-" if f.usable else "not used"))
        rows.append((f.role, f.where, f.detail, role))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows)


def detect(ports: list[str] | None = None, cameras: list[str] | None = None,
           sysfs: Path = Path("/sys/bus/usb/devices"), cups: bool = True,
           timeout: float = 0.3, sound_cards: Path = Path("/proc/asound/cards")) -> tuple[list[Finding], list[str]]:
    """Everything found, and notes about what could not be looked at."""
    notes = []
    try:
        port_list = serial_ports() if ports is None else ports
    except ImportError:
        port_list, notes = [], notes + ["pyserial is not installed: serial ports not probed"]
    findings = probe_serial(port_list, timeout)
    try:
        findings += probe_cameras(cameras)
    except ImportError:
        notes.append("OpenCV is not installed: cameras not probed")
    if not sysfs.exists():
        notes.append(f"{sysfs} not found: USB printers not probed")
    findings += probe_usb_printers(sysfs)
    sound = probe_sound_cards(sound_cards)
    findings += sound
    if not sound:
        notes.append("no sound card: voice prompts stay silent (devices.audio)")
    if cups:
        found, note = probe_cups()
        findings += found
        if note:
            notes.append(note)
    return findings, notes
