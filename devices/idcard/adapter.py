"""The ID card reader as a kiosk :class:`~devices.base.Device`.

The worker thread polls find-card; when a card arrives it runs find -> select
-> read once, publishes ``idcard.read`` (data ``card``: IdCard, ``photo``: BMP
bytes or None) or ``idcard.error`` (``code``, ``message`` for technicians),
and then waits for find-card to report no card (``idcard.removed``) before it
reads again -- a card left on the reader is never read twice.

Status: READY when the SAM answers its status command; FAULT when its
self-test fails (the reader needs service); DISCONNECTED when the port is gone
or the SAM is silent -- the base class then reconnects with backoff.
"""
from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import serial

from devices.base import Device, DeviceError, State
from common.events import EventBus
from devices.idcard import protocol as p
from devices.idcard.card import CardDataError, IdCard
from devices.idcard.photo import PhotoDecodeError, WltDecoder
from devices.idcard.reader import DEFAULT_TIMEOUT, SamReader
from devices.idcard.simulator import SamSimulator
from common.paths import ASSETS

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_CARD = ASSETS / "cards" / "resident_elderly.json"
SAM_FAULTS = frozenset({0x60, 0x66})   # self-test failed, SAM not authorised
MAX_GARBLED_POLLS = 3        # consecutive bad replies to find-card before we reopen the port


class IdCardReader(Device):
    kind = "id_reader"
    poll_interval = 0.3

    def __init__(self, role: str, bus: EventBus | None, port: str, baud: int = 115200,
                 photo_decoder: str | Path | None = None, timeout: float = DEFAULT_TIMEOUT,
                 today: Callable[[], dt.date] = dt.date.today):
        super().__init__(role, bus)
        self.port_url = port
        self.baud = baud
        self.timeout = timeout
        self._today = today
        self._reader: SamReader | None = None
        self._card_present = False
        self._garbled = 0
        self._decoder: WltDecoder | None = None
        self._decoder_problem = ""
        self._sam_id = ""
        if photo_decoder:
            try:
                self._decoder = WltDecoder(photo_decoder)
            except PhotoDecodeError as exc:
                self._decoder_problem = str(exc)
                log.warning("id reader: %s; photos will not be shown", exc)

    # -- Device hooks -------------------------------------------------------
    def _connect(self) -> None:
        self._reader = SamReader.open(self.port_url, self.baud, self.timeout)
        self._card_present = False
        self._garbled = 0
        try:
            self._reader.sam_status()
            # Read once here, on the device's own thread: the port is never shared.
            self._sam_id = self._reader.sam_id()
        except p.SamStatusError as exc:
            self._sam_fault(exc)
            return
        except (p.ProtocolError, serial.SerialException, OSError) as exc:
            self._drop_reader()
            raise p.IdCardError(f"no SAM answering on {self.port_url}: {exc}", "no_answer") from None
        self._set_ready()

    def _disconnect(self) -> None:
        self._drop_reader()

    def sam_id(self) -> str:
        """The SAM module's id as read at the last (re)connect; empty before that."""
        return self._sam_id

    def _poll(self) -> None:
        try:
            if self.status.state == State.FAULT:
                self._reader.sam_status()
                self._set_ready()
                return
            self._check_card()
        except p.SamStatusError as exc:
            if exc.sw3 in SAM_FAULTS:
                self._sam_fault(exc)
            else:
                log.warning("id reader: %s", exc)
        except (serial.SerialException, OSError) as exc:
            raise p.IdCardError(f"serial port {self.port_url} lost (unplugged?): {exc}", "unplugged") from None

    # -- card handling ------------------------------------------------------
    def _check_card(self) -> None:
        try:
            present = self._reader.find_card()
        except p.ProtocolError as exc:
            self._garbled += 1
            if exc.code == "no_reply" or self._garbled >= MAX_GARBLED_POLLS:
                raise p.IdCardError(f"SAM on {self.port_url} stopped answering properly: {exc}", "no_answer") from None
            log.warning("id reader: bad reply to find-card (%s); retrying", exc)
            return
        self._garbled = 0
        if not present:
            if self._card_present:
                self._card_present = False
                self.publish("idcard.removed")
            return
        if self._card_present:
            return          # the card we already read is still on the reader
        self._card_present = True
        self.set_status(State.BUSY, "reading card", "reading")
        try:
            self._read_and_publish()
        finally:
            self._set_ready()

    def _read_and_publish(self) -> None:
        try:
            card = self._reader.read_card()
        except CardDataError as exc:
            self._publish_error(exc.code, f"card data rejected: {exc}")
            return
        except p.SamStatusError as exc:
            code = {"no_card": "read_failed"}.get(exc.code, exc.code)
            self._publish_error(code, str(exc))
            return
        except p.ProtocolError as exc:
            self._publish_error("protocol", f"bad reply while reading the card: {exc}")
            return
        if card is None:            # it left the field between find and read
            self._card_present = False
            return
        if card.expired(self._today()):
            self._publish_error("expired", "the card's validity period has ended")
            return
        # No redaction here: the session the card opens registers the name with the log
        # redactor and its wipe clears it; a card read outside a session leaves nothing behind.
        self.publish("idcard.read", card=card, photo=self._decode_photo(card))

    def _decode_photo(self, card: IdCard) -> bytes | None:
        if self._decoder is None:
            return None
        try:
            return self._decoder.decode(card.photo_wlt)
        except PhotoDecodeError as exc:
            log.warning("id reader: %s", exc)
            return None

    def _publish_error(self, code: str, message: str) -> None:
        log.warning("id reader: card error %s: %s", code, message)
        self.publish("idcard.error", code=code, message=message)

    def _sam_fault(self, exc: p.SamStatusError) -> None:
        """Connected, but the SAM itself refuses to work: only service fixes it."""
        self.set_status(State.FAULT, f"{exc} on {self.port_url}: the reader needs service", exc.code)

    def _set_ready(self) -> None:
        if self._decoder_problem:
            self.set_status(State.WARNING, self._decoder_problem, "photo_decoder")
        else:
            self.set_status(State.READY)

    def _drop_reader(self) -> None:
        if self._reader is not None:
            try:
                self._reader.close()
            finally:
                self._reader = None


class SimulatedIdCardReader(IdCardReader):
    """The real driver talking to a :class:`SamSimulator` on a pty."""

    def __init__(self, role: str, bus: EventBus | None, simulator: SamSimulator, **kwargs):
        super().__init__(role, bus, simulator.port, simulator.baud, **kwargs)
        self.simulator = simulator

    def close(self) -> None:
        super().close()
        self.simulator.stop()
        if self.simulator.link:
            shutil.rmtree(self.simulator.link.parent, ignore_errors=True)


def create(role: str, section, config, bus: EventBus) -> IdCardReader:
    if not section.port:
        raise DeviceError("devices.id_reader.port is empty: set the reader's serial port", "no_port")
    decoder = config.path(section.photo_decoder) if section.photo_decoder else None
    return IdCardReader(role, bus, section.port, section.baud, photo_decoder=decoder)


def create_simulated(role: str, section, config, bus: EventBus, **kwargs) -> SimulatedIdCardReader:
    card = config.path(section.card) if section.card else DEFAULT_SAMPLE_CARD
    link = Path(tempfile.mkdtemp(prefix="kiosk-idsim-")) / "ttyIDCARD"
    simulator = SamSimulator(card, baud=section.baud, link=link)
    simulator.start()
    decoder = config.path(section.photo_decoder) if section.photo_decoder else None
    return SimulatedIdCardReader(role, bus, simulator, photo_decoder=decoder, **kwargs)
