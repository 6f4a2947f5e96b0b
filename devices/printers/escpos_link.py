"""The byte pipe to a receipt printer: python-escpos's connections, plus a status read with a timeout.

python-escpos opens and writes every transport -- ``Usb`` (VID:PID through
pyusb/libusb, detaching the kernel's usblp), ``Serial``, ``Network`` (raw TCP
9100) and ``File`` -- but its reads have no timeout and its ``paper_status()``
answers "plenty" when the printer says nothing.  A :class:`PrinterLink` wraps
the opened python-escpos printer and reads the printer's DLE EOT replies from
the device handle python-escpos opened, with a timeout, so
:mod:`devices.printers.status` can tell silence from a reply.

``read`` returning b"" means "nothing within the timeout"; OSError means the
link itself is gone (unplugged, refused) and the device goes DISCONNECTED.  A
file has no read path (``bidirectional`` False): its status is unknown, never
"fine".
"""
from __future__ import annotations

import select

from escpos.exceptions import DeviceNotFoundError

from devices.base import DeviceError


class PrinterLink:
    """An opened python-escpos printer; subclasses know how to read replies from its device handle."""

    bidirectional = True

    def __init__(self, printer, description: str):
        self.printer, self.description = printer, description
        try:
            printer.open()
        except DeviceNotFoundError as exc:
            raise OSError(f"{description}: {exc}".replace("\n", " ")) from exc

    def write(self, data: bytes) -> None:
        self.printer._raw(data)

    def read(self, size: int, timeout: float) -> bytes:
        raise NotImplementedError

    def reset_input(self) -> None:
        """Drop stale bytes so the next read answers the next question."""
        while self.read(64, 0.0):
            pass

    def close(self) -> None:
        self.printer.close()


class NetworkLink(PrinterLink):
    """Raw TCP (JetDirect, port 9100); status replies come back on the same socket."""

    def __init__(self, host: str, port: int = 9100, timeout: float = 10.0):
        from escpos.printer import Network

        super().__init__(Network(host, port, timeout=timeout), f"network {host}:{port}")

    def read(self, size: int, timeout: float) -> bytes:
        sock = self.printer.device
        ready, _, _ = select.select([sock], [], [], max(timeout, 0))
        if not ready:
            return b""
        data = sock.recv(size)
        if not data:
            raise ConnectionResetError(f"{self.description}: printer closed the connection")
        return data


class SerialLink(PrinterLink):
    def __init__(self, port: str, baud: int = 9600):
        from escpos.printer import Serial

        # no flow control, as the kiosk's serial printers are wired (and as a pty accepts)
        super().__init__(Serial(port, baud, timeout=5, dsrdtr=False), f"serial {port} @ {baud}")

    def read(self, size: int, timeout: float) -> bytes:
        port = self.printer.device
        port.timeout = max(timeout, 0)
        return port.read(size)


class UsbLink(PrinterLink):
    """A printer addressed by VID:PID through pyusb; ``usb_args`` reach ``usb.core.find`` (e.g. a backend)."""

    def __init__(self, vendor_id: int, product_id: int, in_ep: int = 0x82, out_ep: int = 0x01,
                 timeout_ms: int = 10_000, **usb_args):
        from escpos.printer import Usb

        if not Usb.is_usable():
            raise DeviceError("USB by VID:PID needs pyusb (pip install pyusb) and libusb-1.0", "disconnected")
        import usb.core

        printer = Usb(vendor_id, product_id, usb_args=usb_args, timeout=timeout_ms, in_ep=in_ep, out_ep=out_ep)
        try:
            super().__init__(printer, f"usb {vendor_id:04x}:{product_id:04x}")
        except usb.core.NoBackendError as exc:
            raise DeviceError("USB by VID:PID needs libusb-1.0 (apt-get install libusb-1.0-0)",
                              "disconnected") from exc

    def read(self, size: int, timeout: float) -> bytes:
        import usb.core

        try:
            return bytes(self.printer.device.read(self.printer.in_ep, max(size, 64),
                                                  timeout=max(1, int(timeout * 1000))))
        except usb.core.USBTimeoutError:
            return b""


class FileLink(PrinterLink):
    """A capture file or a write-only device node: what was sent, with no status channel."""

    bidirectional = False

    def __init__(self, path: str):
        from escpos.printer import File

        super().__init__(File(path), f"file {path}")

    def read(self, size: int, timeout: float) -> bytes:
        return b""


def open_link(driver: str, target: str, baud: int = 9600) -> PrinterLink:
    """Open the connection named by config ``driver`` and ``connection``."""
    if not target:
        raise DeviceError(f"receipt printer driver {driver!r} needs devices.receipt_printer.connection",
                          "not_configured")
    if driver == "serial":
        return SerialLink(target, baud)
    if driver == "network":
        host, _, port = target.rpartition(":") if ":" in target else (target, "", "9100")
        return NetworkLink(host, int(port))
    if driver == "file" or (driver == "usb" and target.startswith("/dev/")):
        return FileLink(target)
    if driver == "usb":
        vid, _, pid = target.partition(":")
        return UsbLink(int(vid, 16), int(pid, 16))
    raise DeviceError(f"unknown receipt printer connection {driver!r}", "bad_driver")
