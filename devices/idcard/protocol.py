"""GA 467 SAM serial protocol: frames, commands, status codes, frame reader.

A frame is ``AA AA AA 96 69 | LEN(2, big-endian) | body | CHK`` where LEN
counts every byte after itself (body + CHK) and CHK is the XOR of LEN's two
bytes and the body.  A command body is ``CMD PARA [data]``; a response body
is ``SW1 SW2 SW3 [data]``.  Serial links deliver frames in pieces and with
line noise, so :class:`FrameReader` buffers bytes, skips garbage before a
preamble and only hands out frames whose length and checksum verify.
"""
from __future__ import annotations

from dataclasses import dataclass

from devices.base import DeviceError

PREAMBLE = b"\xAA\xAA\xAA\x96\x69"
HEADER_LEN = len(PREAMBLE) + 2          # preamble + LEN
MIN_LEN = 3                             # CMD PARA CHK -- the shortest legal frame
MAX_LEN = 0x0A00                        # longest reply (with fingerprint) is 0x090A

# (CMD, PARA) pairs and the SW3 that means success for each.
RESET = (0x10, 0xFF)
SAM_STATUS = (0x11, 0xFF)
SAM_ID = (0x12, 0xFF)
FIND_CARD = (0x20, 0x01)
SELECT_CARD = (0x20, 0x02)
READ_BASE = (0x30, 0x01)
READ_NEW_ADDRESS = (0x30, 0x03)
READ_WITH_FINGERPRINT = (0x30, 0x10)
SET_BAUD = 0x60                         # PARA 00..04 = 115200/57600/38400/19200/9600

SW3_OK = 0x90
SW3_CARD_FOUND = 0x9F

SW3_TEXT = {
    0x90: "success",
    0x9F: "card found",
    0x10: "checksum error in command",
    0x11: "length error in command",
    0x21: "bad command or parameter",
    0x23: "operation not authorised",
    0x24: "unknown error",
    0x31: "card did not authenticate the SAM",
    0x32: "SAM did not authenticate the card",
    0x33: "information verification failed",
    0x40: "wrong card type",
    0x41: "card read failed",
    0x47: "random number generation failed",
    0x60: "SAM self-test failed",
    0x66: "SAM not authorised",
    0x80: "no card (find failed)",
    0x81: "card select failed",
    0x91: "no content",
}

# SW3 codes after which the whole find -> select -> read sequence starts over.
RESTART_FROM_FIND = frozenset({0x80, 0x81, 0x41})


def sw3_text(sw3: int) -> str:
    return SW3_TEXT.get(sw3, "undocumented status")


class IdCardError(DeviceError):
    """Every error the ID card module raises; ``code`` is stable for the UI."""


class ProtocolError(IdCardError):
    """A frame that cannot be trusted: bad length, bad checksum, timeout, wrong shape."""

    def __init__(self, message: str, code: str = "protocol"):
        super().__init__(message, code)


class SamStatusError(IdCardError):
    """The SAM answered with a non-success SW3."""

    def __init__(self, command: tuple[int, int], sw3: int, code: str = "sam_status"):
        super().__init__(f"SAM answered {sw3:02X} ({sw3_text(sw3)}) to command {command[0]:02X} {command[1]:02X}", code)
        self.command = command
        self.sw3 = sw3


def checksum(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def build_frame(body: bytes) -> bytes:
    """Wrap a command or response body in preamble, length and checksum."""
    length = (len(body) + 1).to_bytes(2, "big")
    return PREAMBLE + length + body + bytes([checksum(length + body)])


def encode_command(command: tuple[int, int], data: bytes = b"") -> bytes:
    return build_frame(bytes(command) + data)


def encode_response(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    return build_frame(bytes((sw1, sw2, sw3)) + data)


@dataclass(frozen=True)
class Response:
    sw1: int
    sw2: int
    sw3: int
    data: bytes

    @classmethod
    def from_body(cls, body: bytes) -> "Response":
        if len(body) < 3:
            raise ProtocolError(f"response body of {len(body)} bytes is shorter than SW1 SW2 SW3")
        return cls(body[0], body[1], body[2], bytes(body[3:]))


class FrameReader:
    """Reassembles frames from arbitrary chunks of a byte stream.

    ``feed`` appends bytes; ``next_body`` returns the body of the next complete
    verified frame, ``None`` when more bytes are needed, or raises
    :class:`ProtocolError` for a frame with an impossible length or a bad
    checksum.  After an error only the first preamble byte is dropped, so a
    good frame hidden behind a lying length field is still found.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.discarded = 0      # garbage bytes skipped while resyncing

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def clear(self) -> None:
        self._buffer.clear()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def bytes_needed(self) -> int:
        """At least how many more bytes the next frame needs (>= 1 when incomplete)."""
        buf = self._buffer
        start = buf.find(PREAMBLE)
        if start < 0:
            return HEADER_LEN - _partial_preamble_suffix(buf)
        have = len(buf) - start
        if have < HEADER_LEN:
            return HEADER_LEN - have
        length = int.from_bytes(buf[start + 5:start + 7], "big")
        if not MIN_LEN <= length <= MAX_LEN:
            return 1
        return max(1, HEADER_LEN + length - have)

    def next_body(self) -> bytes | None:
        buf = self._buffer
        start = buf.find(PREAMBLE)
        if start < 0:
            keep = _partial_preamble_suffix(buf)
            self.discarded += len(buf) - keep
            del buf[:len(buf) - keep]
            return None
        if start:
            self.discarded += start
            del buf[:start]
        if len(buf) < HEADER_LEN:
            return None
        length = int.from_bytes(buf[5:7], "big")
        if not MIN_LEN <= length <= MAX_LEN:
            del buf[:1]
            raise ProtocolError(f"frame length {length} outside {MIN_LEN}..{MAX_LEN}")
        end = HEADER_LEN + length
        if len(buf) < end:
            return None
        frame = bytes(buf[:end])
        if checksum(frame[5:-1]) != frame[-1]:
            del buf[:1]
            raise ProtocolError(f"frame checksum {frame[-1]:02X} does not match {checksum(frame[5:-1]):02X}")
        del buf[:end]
        return frame[HEADER_LEN:-1]


def _partial_preamble_suffix(buf: bytearray) -> int:
    """Length of the longest buffer tail that could be the start of a preamble."""
    for n in range(min(len(PREAMBLE) - 1, len(buf)), 0, -1):
        if buf[-n:] == PREAMBLE[:n]:
            return n
    return 0
