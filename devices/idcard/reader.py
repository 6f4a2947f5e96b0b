"""The SAM driver: commands and replies over a pyserial port.

One :class:`SamReader` owns one open port.  Every transaction writes one
command frame and reads until one verified reply frame arrives (partial reads
are reassembled, garbage skipped) or the timeout passes.  A complete read is
find -> select -> read base info, starting again from find when the SAM says
80/81/41 (the card moved or the RF read failed).
"""
from __future__ import annotations

import termios
import time
from dataclasses import dataclass

import serial

from devices.idcard import protocol as p
from devices.idcard.card import PHOTO_LEN, TEXT_LEN, IdCard, parse_card

DEFAULT_TIMEOUT = 2.0            # the slowest legal reply (fingerprint read) is ~0.2 s on the wire
READ_ATTEMPTS = 3
READ_SLICE = 0.05                # seconds one port.read may block

# SW3 -> stable code for the UI / technician.
SW3_CODES = {
    0x31: "card_auth_failed", 0x32: "card_auth_failed", 0x33: "card_auth_failed",
    0x40: "unsupported_card", 0x41: "read_failed", 0x60: "sam_self_test", 0x66: "sam_not_authorised",
    0x80: "no_card", 0x81: "read_failed", 0x91: "read_failed",
}


@dataclass(frozen=True)
class CardBlocks:
    text: bytes
    photo: bytes


def open_port(url: str, baud: int = 115200) -> serial.SerialBase:
    """Open a real port (/dev/ttyUSB0) or a pyserial URL; raises IdCardError.

    The short read timeout bounds how late a transaction notices its deadline;
    it is set once because changing it reconfigures the port."""
    try:
        return serial.serial_for_url(url, baudrate=baud, bytesize=8, parity="N", stopbits=1, timeout=READ_SLICE)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise p.IdCardError(f"cannot open serial port {url}: {exc}", "open_failed") from None


class SamReader:
    def __init__(self, port: serial.SerialBase, timeout: float = DEFAULT_TIMEOUT):
        self.port = port
        self.timeout = timeout
        self._frames = p.FrameReader()

    @classmethod
    def open(cls, url: str, baud: int = 115200, timeout: float = DEFAULT_TIMEOUT) -> "SamReader":
        return cls(open_port(url, baud), timeout)

    def close(self) -> None:
        self.port.close()

    # -- transport --------------------------------------------------------
    def transact(self, command: tuple[int, int], data: bytes = b"") -> p.Response:
        """Send one command and return its reply; ProtocolError on a bad or missing reply.

        Serial errors (unplugged adapter) propagate as OSError/SerialException:
        they mean the device is gone, which the adapter handles differently."""
        self._frames.clear()
        try:
            self.port.reset_input_buffer()
            self.port.write(p.encode_command(command, data))
            body = self._read_body()
        except termios.error as exc:  # pyserial lets tcflush's EIO through on a vanished tty
            raise serial.SerialException(f"serial port failed: {exc}") from None
        return p.Response.from_body(body)

    def _read_body(self) -> bytes:
        deadline = time.monotonic() + self.timeout
        while True:
            body = self._frames.next_body()   # ProtocolError for a bad frame: never parsed
            if body is not None:
                return body
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                got = self._frames.buffered
                raise p.ProtocolError(
                    f"no reply from the SAM within {self.timeout:g} s" if not got and not self._frames.discarded
                    else f"incomplete reply from the SAM within {self.timeout:g} s ({got} bytes buffered)",
                    "no_reply" if not got and not self._frames.discarded else "protocol")
            # Ask for exactly what the frame still needs: pyserial returns as soon as it
            # has arrived (or after the port's short read timeout), not once per byte.
            self._frames.feed(self.port.read(self._frames.bytes_needed()))

    def expect(self, command: tuple[int, int], ok: int = p.SW3_OK, data: bytes = b"") -> p.Response:
        response = self.transact(command, data)
        if response.sw3 != ok:
            raise p.SamStatusError(command, response.sw3, SW3_CODES.get(response.sw3, "sam_status"))
        return response

    # -- SAM --------------------------------------------------------------
    def sam_status(self) -> None:
        """Raises SamStatusError (code ``sam_self_test``) if the SAM's self-test fails."""
        self.expect(p.SAM_STATUS)

    def sam_id(self) -> str:
        """The SAM's serial number in the vendor's printed form, for technicians."""
        data = self.expect(p.SAM_ID).data
        if len(data) != 16:
            raise p.ProtocolError(f"SAM id reply has {len(data)} bytes, expected 16")
        le = lambda b: int.from_bytes(b, "little")  # noqa: E731 -- the vendor tools print these fields little-endian
        return (f"{le(data[0:2]):02d}.{le(data[2:4]):02d}-{le(data[4:8]):08d}-"
                f"{le(data[8:12]):010d}-{le(data[12:16]):010d}")

    # -- card -------------------------------------------------------------
    def find_card(self) -> bool:
        """True if a card is in the field, False if not (SW3 80)."""
        response = self.transact(p.FIND_CARD)
        if response.sw3 == p.SW3_CARD_FOUND:
            return True
        if response.sw3 == 0x80:
            return False
        raise p.SamStatusError(p.FIND_CARD, response.sw3, SW3_CODES.get(response.sw3, "sam_status"))

    def select_card(self) -> None:
        self.expect(p.SELECT_CARD)

    def read_blocks(self) -> CardBlocks:
        data = self.expect(p.READ_BASE).data
        if len(data) < 4:
            raise p.ProtocolError("base info reply has no length words")
        text_len = int.from_bytes(data[0:2], "big")
        photo_len = int.from_bytes(data[2:4], "big")
        if text_len != TEXT_LEN or photo_len != PHOTO_LEN or len(data) != 4 + text_len + photo_len:
            raise p.ProtocolError(
                f"base info lengths text={text_len} photo={photo_len} in {len(data)} bytes do not match the layout")
        return CardBlocks(data[4:4 + text_len], data[4 + text_len:])

    def read_card(self, attempts: int = READ_ATTEMPTS) -> IdCard | None:
        """find -> select -> read -> parse.  None if no card is present.

        Starts over from find on 80/81/41 (up to ``attempts`` times) because
        those mean the card moved or RF failed; other errors propagate."""
        for attempt in range(attempts):
            try:
                if not self.find_card():
                    return None
                self.select_card()
                blocks = self.read_blocks()
            except p.SamStatusError as exc:
                if exc.sw3 in p.RESTART_FROM_FIND and attempt < attempts - 1:
                    continue
                raise
            return parse_card(blocks.text, blocks.photo)
        return None
