"""Byte pipes to an ESC/POS printer: USB, serial, network, file.

One small interface (``write``, ``read(size, timeout)``, ``reset_input``,
``close``) so the receipt code and the status reader never care how the
printer is attached.  ``read`` returning b"" means "nothing within the
timeout"; OSError means the link itself is gone (unplugged, refused) and the
device goes DISCONNECTED.  A plain output file has no read path at all
(``bidirectional`` is False): its status is unknown, never "fine".
"""
from __future__ import annotations

import os
import select
import socket
import stat

from devices.base import DeviceError


class Connection:
    bidirectional = True
    description = "printer"

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, size: int, timeout: float) -> bytes:
        raise NotImplementedError

    def reset_input(self) -> None:
        """Drop stale bytes so the next read answers the next question."""
        while self.read(64, 0.0):
            pass

    def close(self) -> None:
        pass


class SerialConnection(Connection):
    def __init__(self, port: str, baud: int = 9600):
        import serial  # pyserial; imported here so network-only kiosks never need it

        self.description = f"serial {port} @ {baud}"
        try:
            self._port = serial.Serial(port, baud, timeout=0, write_timeout=5, rtscts=False)
        except serial.SerialException as exc:
            raise OSError(f"serial port {port}: {exc}") from exc

    def write(self, data: bytes) -> None:
        import serial

        try:
            self._port.write(data)
            self._port.flush()
        except serial.SerialException as exc:
            raise OSError(f"{self.description}: {exc}") from exc

    def read(self, size: int, timeout: float) -> bytes:
        import serial

        try:
            self._port.timeout = max(timeout, 0)
            return self._port.read(size)
        except serial.SerialException as exc:
            raise OSError(f"{self.description}: {exc}") from exc

    def close(self) -> None:
        self._port.close()


class NetworkConnection(Connection):
    """Raw TCP (JetDirect, port 9100); status replies come back on the same socket."""

    def __init__(self, host: str, port: int = 9100, connect_timeout: float = 3.0):
        self.description = f"network {host}:{port}"
        self._sock = socket.create_connection((host, port), timeout=connect_timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write(self, data: bytes) -> None:
        self._sock.settimeout(10.0)
        self._sock.sendall(data)

    def read(self, size: int, timeout: float) -> bytes:
        ready, _, _ = select.select([self._sock], [], [], max(timeout, 0))
        if not ready:
            return b""
        data = self._sock.recv(size)
        if not data:
            raise ConnectionResetError(f"{self.description}: printer closed the connection")
        return data

    def close(self) -> None:
        self._sock.close()


class FileConnection(Connection):
    """A device node (/dev/usb/lp0: usblp reads status back) or a plain capture file."""

    def __init__(self, path: str):
        self.description = f"file {path}"
        is_device = os.path.exists(path) and stat.S_ISCHR(os.stat(path).st_mode)
        self.bidirectional = is_device
        flags = os.O_RDWR | os.O_NONBLOCK if is_device else os.O_WRONLY | os.O_CREAT | os.O_APPEND
        self._fd = os.open(path, flags, 0o600)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view):]
            except BlockingIOError:
                select.select([], [self._fd], [], 1.0)

    def read(self, size: int, timeout: float) -> bytes:
        if not self.bidirectional:
            return b""
        ready, _, _ = select.select([self._fd], [], [], max(timeout, 0))
        if not ready:
            return b""
        try:
            return os.read(self._fd, size)
        except BlockingIOError:
            return b""

    def close(self) -> None:
        os.close(self._fd)


class UsbConnection(Connection):
    """A printer addressed by VID:PID through libusb (pyusb), as python-escpos does."""

    def __init__(self, vendor_id: int, product_id: int):
        self.description = f"usb {vendor_id:04x}:{product_id:04x}"
        try:
            import usb.core
            import usb.util
        except ImportError as exc:
            raise DeviceError("USB by VID:PID needs pyusb (pip install pyusb) and libusb-1.0; "
                              "or use driver = \"file\" with /dev/usb/lp0", "disconnected") from exc
        self._usb = usb
        dev = usb.core.find(idVendor=vendor_id, idProduct=product_id)
        if dev is None:
            raise OSError(f"{self.description}: no such device (unplugged?)")
        if dev.is_kernel_driver_active(0):
            dev.detach_kernel_driver(0)
        dev.set_configuration()
        intf = dev.get_active_configuration()[(0, 0)]
        direction = usb.util.endpoint_direction
        self._out = usb.util.find_descriptor(intf, custom_match=lambda e: direction(e.bEndpointAddress) == usb.util.ENDPOINT_OUT)
        self._in = usb.util.find_descriptor(intf, custom_match=lambda e: direction(e.bEndpointAddress) == usb.util.ENDPOINT_IN)
        self.bidirectional = self._in is not None
        self._dev = dev

    def write(self, data: bytes) -> None:
        try:
            self._out.write(data, timeout=10_000)
        except self._usb.core.USBError as exc:
            raise OSError(f"{self.description}: {exc}") from exc

    def read(self, size: int, timeout: float) -> bytes:
        if self._in is None:
            return b""
        try:
            return bytes(self._in.read(max(size, self._in.wMaxPacketSize), timeout=max(1, int(timeout * 1000))))
        except self._usb.core.USBTimeoutError:
            return b""
        except self._usb.core.USBError as exc:
            raise OSError(f"{self.description}: {exc}") from exc

    def close(self) -> None:
        self._usb.util.dispose_resources(self._dev)


def open_connection(driver: str, target: str, baud: int = 9600) -> Connection:
    """Open the connection named by config ``driver`` and ``connection``."""
    if not target:
        raise DeviceError(f"receipt printer driver {driver!r} needs devices.receipt_printer.connection",
                          "not_configured")
    if driver == "serial":
        return SerialConnection(target, baud)
    if driver == "network":
        host, _, port = target.rpartition(":") if ":" in target else (target, "", "9100")
        return NetworkConnection(host, int(port))
    if driver == "file":
        return FileConnection(target)
    if driver == "usb":
        if target.startswith("/dev/"):
            return FileConnection(target)
        vid, _, pid = target.partition(":")
        return UsbConnection(int(vid, 16), int(pid, 16))
    raise DeviceError(f"unknown receipt printer connection {driver!r}", "bad_driver")
