"""A simulated SAM reader on a pseudo-terminal, speaking the real bytes.

The simulator owns the master side of an ``os.openpty()`` pair (raw mode);
the driver opens the slave side like any serial port, so tests and the dev
kiosk run the real :class:`~devices.idcard.reader.SamReader`.  Replies are
paced at the configured baud rate (10 bits per byte, 8N1) so timings mean
something.  ``link`` names a stable symlink to the current slave device (like
``/dev/serial/by-id``) so ``unplug()``/``replug()`` can swap the pty under a
driver that keeps reopening the same path.
"""
from __future__ import annotations

import logging
import os
import random
import select
import threading
import time
import tty
from pathlib import Path

from devices.idcard import protocol as p
from devices.idcard.card import PHOTO_LEN, TEXT_LEN, IdCard, card_from_dict, encode_card, load_card_file

log = logging.getLogger(__name__)

SELECT_REPLY = bytes(8)                   # what real SAMs send after 90 on select
SAM_ID_BYTES = bytes.fromhex("05000100" "1a2b3c00" "d2040000" "2e160000")
CORRUPTIONS = ("checksum", "garbage", "truncate", "length_lie")
_COMMAND_NAMES = {
    p.RESET: "reset", p.SAM_STATUS: "sam_status", p.SAM_ID: "sam_id", p.FIND_CARD: "find",
    p.SELECT_CARD: "select", p.READ_BASE: "read", p.READ_NEW_ADDRESS: "read_address",
    p.READ_WITH_FINGERPRINT: "read_fingerprint",
}


class SamSimulator:
    """A SAM with one card slot.  Thread-safe controls for tests:
    ``place_card``, ``remove_card``, ``unplug``/``replug``, ``inject_status``,
    ``corrupt_next``; attributes ``sam_fault``, ``silent``, ``reply_delay``,
    ``fragment``."""

    def __init__(self, card: IdCard | dict | str | Path | None = None, baud: int = 115200,
                 paced: bool = True, link: str | Path | None = None):
        self.baud = baud
        self.paced = paced
        self.link = Path(link) if link else None
        self.sam_fault = False            # SAM status -> 60 (self-test failed)
        self.silent = False               # answer nothing (dead SAM behind a live USB adapter)
        self.reply_delay = 0.0            # processing time before each reply, seconds
        self.fragment = False             # send replies in random pieces with gaps
        self.commands: list[str] = []     # names of commands received, for tests
        self._lock = threading.Lock()
        self._card: IdCard | None = None
        self._selected = False
        self._injected: dict[str, list[int]] = {}
        self._corrupt: list[str] = []
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_name = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._random = random.Random(0)
        if card is not None:
            self.place_card(card)

    # -- lifecycle --------------------------------------------------------
    @property
    def port(self) -> str:
        """The path a driver opens: the stable link if any, else the pty slave."""
        return str(self.link) if self.link else self._slave_name

    def start(self) -> str:
        self._open_pty()
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="sam-simulator", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        self._close_pty()

    def unplug(self) -> None:
        """Like pulling the USB cable: the port vanishes, open handles fail."""
        with self._lock:
            self._close_pty()

    def replug(self) -> None:
        with self._lock:
            if self._master is None:
                self._open_pty()

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        self._master, self._slave, self._slave_name = master, slave, os.ttyname(slave)
        if self.link:
            tmp = self.link.with_name(self.link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self._slave_name)
            tmp.replace(self.link)

    def _close_pty(self) -> None:
        if self.link:
            self.link.unlink(missing_ok=True)
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None

    # -- card and fault controls -------------------------------------------
    def place_card(self, card: IdCard | dict | str | Path) -> None:
        if isinstance(card, dict):
            card = card_from_dict(card)
        elif isinstance(card, (str, Path)):
            card = load_card_file(card)
        encode_card(card)  # fail here, in the test, if the card cannot be encoded
        with self._lock:
            self._card, self._selected = card, False

    def remove_card(self) -> None:
        with self._lock:
            self._card, self._selected = None, False

    @property
    def card_present(self) -> bool:
        return self._card is not None

    def inject_status(self, command: str, sw3: int, times: int = 1) -> None:
        """Answer the next ``times`` ``command`` ("find", "select", "read", ...) with ``sw3``."""
        with self._lock:
            self._injected.setdefault(command, []).extend([sw3] * times)

    def corrupt_next(self, kind: str) -> None:
        """Damage the next reply: checksum, garbage (before the preamble),
        truncate (half a frame, then silence) or length_lie (LEN too big)."""
        if kind not in CORRUPTIONS:
            raise ValueError(f"corruption must be one of {CORRUPTIONS}")
        with self._lock:
            self._corrupt.append(kind)

    # -- the SAM ------------------------------------------------------------
    def _serve(self) -> None:
        frames = p.FrameReader()
        while not self._stop.is_set():
            master = self._master
            if master is None:
                frames.clear()
                self._stop.wait(0.02)
                continue
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                frames.feed(os.read(master, 4096))
            except OSError:        # unplugged under us, or nobody has the slave open
                self._stop.wait(0.02)
                continue
            while True:
                try:
                    body = frames.next_body()
                except p.ProtocolError:
                    self._send(master, p.encode_response(0x10), request_len=0)
                    continue
                if body is None:
                    break
                reply = self._answer(body)
                if reply is not None:
                    self._send(master, reply, request_len=len(body) + 8)

    def _answer(self, body: bytes) -> bytes | None:
        if len(body) < 2:
            return p.encode_response(0x11)
        command = (body[0], body[1])
        name = _COMMAND_NAMES.get(command, f"{body[0]:02X}{body[1]:02X}")
        with self._lock:
            self.commands.append(name)
            if self.silent:
                return None
            queued = self._injected.get(name)
            if queued:
                return p.encode_response(queued.pop(0))
            card, selected = self._card, self._selected
            if command == p.SAM_STATUS:
                return p.encode_response(0x60 if self.sam_fault else p.SW3_OK)
            if command in (p.RESET,):
                self._selected = False
                return p.encode_response(p.SW3_OK)
            if command == p.SAM_ID:
                return p.encode_response(p.SW3_OK, SAM_ID_BYTES)
            if body[0] == p.SET_BAUD:
                return p.encode_response(p.SW3_OK if body[1] <= 4 else 0x21)
            if self.sam_fault:
                return p.encode_response(0x60)
            if command == p.FIND_CARD:
                self._selected = False
                return p.encode_response(p.SW3_CARD_FOUND, bytes(4)) if card else p.encode_response(0x80)
            if command == p.SELECT_CARD:
                self._selected = card is not None
                return p.encode_response(p.SW3_OK, SELECT_REPLY) if card else p.encode_response(0x81)
            if command in (p.READ_BASE, p.READ_WITH_FINGERPRINT, p.READ_NEW_ADDRESS):
                if not (card and selected):
                    return p.encode_response(0x41)
                if command == p.READ_NEW_ADDRESS:
                    return p.encode_response(0x91)
                return p.encode_response(p.SW3_OK, _base_info(card, fingerprint=command == p.READ_WITH_FINGERPRINT))
            return p.encode_response(0x21)

    def _send(self, master: int, reply: bytes, request_len: int) -> None:
        with self._lock:
            corruption = self._corrupt.pop(0) if self._corrupt else None
        reply = _corrupted(reply, corruption, self._random)
        byte_time = 10 / self.baud
        if self.paced:  # the command itself took this long on a real wire
            time.sleep(request_len * byte_time)
        if self.reply_delay:
            time.sleep(self.reply_delay)
        try:
            if self.fragment:
                self._send_fragmented(master, reply, byte_time)
            elif self.paced:
                self._send_paced(master, reply, byte_time)
            else:
                os.write(master, reply)
        except OSError:
            log.debug("simulator: reply lost (port closed)")

    def _send_paced(self, master: int, data: bytes, byte_time: float) -> None:
        """Write each byte no earlier than a UART would have finished sending it."""
        start = time.perf_counter()
        sent = 0
        while sent < len(data):
            due = min(len(data), int((time.perf_counter() - start) / byte_time))
            if due > sent:
                sent += os.write(master, data[sent:due])
                continue
            target = start + min(len(data), sent + 32) * byte_time
            time.sleep(max(0.0, target - time.perf_counter()))

    def _send_fragmented(self, master: int, data: bytes, byte_time: float) -> None:
        sent = 0
        while sent < len(data):
            size = self._random.randint(1, 97)
            chunk = data[sent:sent + size]
            if self.paced:
                self._send_paced(master, chunk, byte_time)
            else:
                os.write(master, chunk)
            sent += len(chunk)
            time.sleep(self._random.uniform(0, 0.003))


def _base_info(card: IdCard, fingerprint: bool) -> bytes:
    photo = card.photo_wlt.ljust(PHOTO_LEN, b"\0")[:PHOTO_LEN]
    lengths = TEXT_LEN.to_bytes(2, "big") + PHOTO_LEN.to_bytes(2, "big")
    if fingerprint:
        return lengths + (1024).to_bytes(2, "big") + encode_card(card) + photo + bytes(1024)
    return lengths + encode_card(card) + photo


def _corrupted(reply: bytes, kind: str | None, rng: random.Random) -> bytes:
    if kind == "checksum":
        return reply[:-1] + bytes([reply[-1] ^ 0x5A])
    if kind == "garbage":
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))) + reply
    if kind == "truncate":
        return reply[:len(reply) // 2]
    if kind == "length_lie":
        lie = (int.from_bytes(reply[5:7], "big") + 50).to_bytes(2, "big")
        return reply[:5] + lie + reply[7:]
    return reply
