"""The loudspeaker: raw PCM (signed 16-bit little-endian, mono) to a real audio output.

Drivers (``[devices.audio] driver``):

- ``alsa``: ``aplay`` (Debian ``alsa-utils``) reading the samples on its stdin, on the
  ALSA device ``device`` (empty: ALSA's ``default``, which a PulseAudio/PipeWire system
  routes to its server).  READY only while ``/proc/asound/cards`` lists a card; a kiosk
  without one is DISCONNECTED ("no sound card") and keeps working silently.
- ``pipe``: any command that plays raw PCM from stdin (``command``, ``{rate}`` is
  replaced by the sample rate), e.g. ``pacat --raw --format=s16le --channels=1 --rate={rate}``.
- ``simulated``: an in-process sink that keeps a short log of what it was given (for
  development and tests); always READY.

:meth:`AudioOutput.play` blocks the *caller's* thread (the kiosk's voice worker, never
the UI thread) while it writes the samples, in small chunks so a newer prompt can cut
in (``cancel``).  It never raises: a player that fails marks the device DISCONNECTED
with the reason and the sound is dropped.  ``first_sample_at`` is the
``time.perf_counter()`` at which the first samples of the last sound were handed to the
output (the voice benchmark measures up to it).
"""
from __future__ import annotations

import collections
import shlex
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterable

from common.events import EventBus
from devices.base import Device, DeviceError, State

CHUNK_BYTES = 4096            # ~93 ms at 22.05 kHz: how soon a newer prompt cuts in
ALSA_CARDS = Path("/proc/asound/cards")


class AudioOutput(Device):
    """Base of the audio drivers: status, ``play`` and its bookkeeping."""

    kind = "audio"
    poll_interval = 5.0          # notice a USB speaker plugged in or pulled

    def __init__(self, role: str, bus: EventBus | None = None):
        super().__init__(role, bus)
        self.first_sample_at: float | None = None
        self._play_lock = threading.Lock()   # one sound at a time

    def play(self, chunks: Iterable[bytes], rate: int, cancel: threading.Event | None = None) -> bool:
        """Play ``chunks`` of S16LE mono PCM at ``rate`` Hz; True when all of it was handed
        to the output, False when the device is unusable, failed, or ``cancel`` was set."""
        if not self.status.usable:
            return False
        cancel = cancel or threading.Event()
        with self._play_lock:
            self.first_sample_at = None
            try:
                return self._play(_rechunk(chunks), rate, cancel)
            except DeviceError as exc:
                self.set_status(State.DISCONNECTED, str(exc), exc.code)
            except OSError as exc:
                self.set_status(State.DISCONNECTED, f"{exc.__class__.__name__}: {exc}", "player_failed")
            return False

    def _handed(self) -> None:
        if self.first_sample_at is None:
            self.first_sample_at = time.perf_counter()

    def _play(self, chunks: Iterable[bytes], rate: int, cancel: threading.Event) -> bool:
        raise NotImplementedError


class PipeAudio(AudioOutput):
    """A player process per sound, fed through its stdin (``aplay``, ``pacat``, ...)."""

    def __init__(self, role: str, bus: EventBus | None, command: list[str], needs_card: bool = False):
        super().__init__(role, bus)
        self.command = command
        self.needs_card = needs_card

    def _connect(self) -> None:
        if shutil.which(self.command[0]) is None:
            raise DeviceError(f"audio player {self.command[0]!r} not found", "no_player")
        self._poll()

    def _poll(self) -> None:
        if self.needs_card and not alsa_cards():
            raise DeviceError("no sound card: /proc/asound/cards lists none", "no_sound_card")

    def _play(self, chunks: Iterable[bytes], rate: int, cancel: threading.Event) -> bool:
        argv = [part.replace("{rate}", str(rate)) for part in self.command]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        cut = False
        try:
            for chunk in chunks:
                if cancel.is_set():
                    cut = True
                    break
                proc.stdin.write(chunk)
                proc.stdin.flush()
                self._handed()
            proc.stdin.close()
        except BrokenPipeError:
            pass   # the player died: its exit status and stderr say why
        if cut:
            proc.kill()
        try:
            rc = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        error = proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
        proc.stderr.close()
        if cut:
            return False
        if rc != 0:
            reason = error[-1] if error else f"exit status {rc}"
            raise DeviceError(f"{argv[0]}: {reason}", "player_failed")
        return True


class SimulatedAudio(AudioOutput):
    """Takes the samples as a sound card would, without a card; remembers the last sounds
    (rate, sample count, RMS) so tests and the tour can check what was played."""

    def __init__(self, role: str, bus: EventBus | None = None, realtime: bool = False):
        super().__init__(role, bus)
        self.realtime = realtime
        self.played: collections.deque[dict] = collections.deque(maxlen=64)

    def _connect(self) -> None:
        pass

    def _play(self, chunks: Iterable[bytes], rate: int, cancel: threading.Event) -> bool:
        import numpy as np
        total, energy = 0, 0.0
        for chunk in chunks:
            if cancel.is_set():
                self.played.append({"rate": rate, "samples": total, "rms": _rms(energy, total), "cut": True})
                return False
            samples = np.frombuffer(chunk, dtype="<i2").astype(np.float64)
            self._handed()
            total += samples.size
            energy += float(np.dot(samples, samples))
            if self.realtime:
                cancel.wait(samples.size / rate)
        self.played.append({"rate": rate, "samples": total, "rms": _rms(energy, total), "cut": False})
        self.publish("audio.played", samples=total, rate=rate)
        return True


def _rms(energy: float, count: int) -> float:
    return (energy / count) ** 0.5 if count else 0.0


def _rechunk(chunks: Iterable[bytes]) -> Iterable[bytes]:
    """At most CHUNK_BYTES at a time, whole samples only."""
    rest = b""
    for chunk in chunks:
        data = rest + chunk
        cut = len(data) - len(data) % 2
        data, rest = data[:cut], data[cut:]
        for i in range(0, len(data), CHUNK_BYTES):
            yield data[i:i + CHUNK_BYTES]


def alsa_cards(path: Path | None = None) -> list[str]:
    """The sound cards ALSA lists (``/proc/asound/cards``: " 0 [PCH ]: HDA-Intel - ...")."""
    path = path or ALSA_CARDS
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line.strip() for line in text.splitlines() if line[:3].strip().isdigit()]


def aplay_command(device: str = "") -> list[str]:
    return ["aplay", "-q", "-t", "raw", "-f", "S16_LE", "-c", "1", "-r", "{rate}"] + (["-D", device] if device else [])


def create_alsa(role: str, section, config, bus: EventBus) -> PipeAudio:
    return PipeAudio(role, bus, aplay_command(section.device), needs_card=True)


def create_pipe(role: str, section, config, bus: EventBus) -> PipeAudio:
    command = shlex.split(section.command)
    if not command:
        raise DeviceError(f"{role}: driver pipe needs devices.{role}.command", "no_command")
    return PipeAudio(role, bus, command)


def create_simulated(role: str, section, config, bus: EventBus) -> SimulatedAudio:
    return SimulatedAudio(role, bus)
