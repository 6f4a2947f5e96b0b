"""The speaker: one worker thread that turns requests into sound on the audio device.

Callers (the core, for the screens) only queue a request and return at once; the worker
synthesises or loads the prompt, applies the resident's volume as a software gain on
the samples (so it works on any device, :data:`VOLUME_STEPS_DB`) and hands them to the
audio device, which blocks this thread, never the UI's.  A newer request cuts in on the
one playing (``interrupt``, e.g. the next screen's prompt) or waits for it to end (face
prompts, which change several times a second); only the latest waiting request is kept.

State that belongs to the resident -- volume and whether automatic prompts are on -- is
reset to the kiosk's defaults by :meth:`reset` when the session ends.  Automatic
prompts are on when ``[voice] enabled`` says so or in 长辈模式, unless the resident
turned them off; 朗读 (``force``) is always spoken.

Dynamic text (the screen's main text, a service guide) is refused when it holds the
session's personal values or looks like an ID/phone number (kiosk.privacy).
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from common.worker import Worker
from kiosk import privacy
from kiosk.voice.cache import PromptSounds
from kiosk.voice.engine import EngineError, Sound

log = logging.getLogger(__name__)

VOLUME_STEPS_DB = (-18.0, -12.0, -6.0, 0.0)   # 小 … 大: 18 dB in four steps
MAX_DYNAMIC_CHARS = 2000


@dataclass
class Request:
    language: str
    prompt_id: str | None = None
    text: str | None = None
    asked_at: float = field(default_factory=time.perf_counter)


def gain(chunks: Iterable[bytes], db: float) -> Iterator[bytes]:
    """The samples ``db`` decibels louder (negative: quieter), clipped to 16 bits."""
    if db == 0:
        yield from chunks
        return
    import numpy as np
    factor = 10 ** (db / 20)
    for chunk in chunks:
        samples = np.frombuffer(chunk[:len(chunk) - len(chunk) % 2], dtype="<i2").astype(np.float32)
        yield np.clip(np.rint(samples * factor), -32768, 32767).astype("<i2").tobytes()


class Speaker:
    def __init__(self, sounds: PromptSounds, audio: Callable[[], object | None],
                 default_enabled: bool = True, default_volume: int = 2,
                 personal_values: Callable[[], Iterable[str]] = tuple):
        self.sounds = sounds
        self._audio = audio
        self.default_enabled = default_enabled
        self.default_volume = default_volume
        self._personal_values = personal_values
        self.volume = default_volume
        self.elder = False
        self._choice: bool | None = None       # the resident switched prompts on/off
        self._cond = threading.Condition()
        self._pending: Request | None = None
        self._cancel = threading.Event()
        self.requested: collections.deque[tuple[str, str]] = collections.deque(maxlen=64)  # (prompt/"text", language)
        self.refused = 0
        self._worker = Worker("voice", self._loop, wake=self._wake)

    # -- state the resident changes ------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self._choice if self._choice is not None else (self.default_enabled or self.elder)

    def set_enabled(self, on: bool) -> None:
        self._choice = bool(on)
        if not on:
            self.silence()

    def set_volume(self, step: int) -> int:
        self.volume = max(0, min(len(VOLUME_STEPS_DB) - 1, int(step)))
        return self.volume

    @property
    def volume_db(self) -> float:
        return VOLUME_STEPS_DB[self.volume]

    def reset(self) -> None:
        """The session ended: the kiosk's defaults for the next resident, and silence."""
        self.volume = self.default_volume
        self._choice = None
        self.silence()

    # -- requests ------------------------------------------------------------------
    def speak(self, prompt_id: str, language: str, interrupt: bool = True, force: bool = False) -> bool:
        """Queue fixed prompt ``prompt_id``; False when prompts are off (and not ``force``)."""
        if not (self.enabled or force):
            return False
        if prompt_id not in self.sounds_catalogue():
            raise KeyError(f"no voice prompt {prompt_id!r}")
        self._queue(Request(language, prompt_id=prompt_id), interrupt)
        return True

    def say(self, text: str | Iterable[str], language: str) -> bool:
        """朗读: read dynamic text aloud (always, on request).  A line that could carry the
        resident's personal data is dropped (a single text is then refused whole); False
        when nothing was left to say."""
        lines = [text] if isinstance(text, str) else list(text)
        values = list(self._personal_values())
        kept = []
        for line in lines:
            line = privacy.clean_text(line)
            if not line:
                continue
            why = privacy.personal_data_in(line, values)
            if why is not None:
                self.refused += 1
                log.info("voice: a read-aloud line was refused (%s)", why)   # never the text itself
                continue
            kept.append(line)
        spoken = " ".join(kept)[:MAX_DYNAMIC_CHARS]
        if not spoken:
            return False
        self._queue(Request(language, text=spoken), interrupt=True)
        return True

    def silence(self) -> None:
        with self._cond:
            self._pending = None
            self._cancel.set()

    def _queue(self, request: Request, interrupt: bool) -> None:
        self.requested.append((request.prompt_id or "text", request.language))
        with self._cond:
            self._pending = request
            if interrupt:
                self._cancel.set()
            self._cond.notify()

    @staticmethod
    def sounds_catalogue():
        from kiosk.voice.prompts import PROMPTS
        return PROMPTS

    # -- the worker ----------------------------------------------------------------
    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self.silence()
        self._worker.stop()

    def _wake(self) -> None:
        with self._cond:
            self._cancel.set()
            self._cond.notify_all()

    def _loop(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            with self._cond:
                while self._pending is None and not stopping.is_set():
                    self._cond.wait(0.5)
                request, self._pending = self._pending, None
                self._cancel = cancel = threading.Event()
            if request is not None:
                try:
                    self._play(request, cancel)
                except Exception:   # a broken prompt or engine must never stop the kiosk
                    log.exception("voice: prompt failed")

    def _play(self, request: Request, cancel: threading.Event) -> None:
        audio = self._audio()
        if audio is None or not audio.status.usable:
            return   # no loudspeaker: the kiosk works on, silently (its status says why)
        try:
            if request.prompt_id is not None:
                sound = self.sounds.sound(request.prompt_id, request.language)
            else:
                sound = self.sounds.engine.synthesize(request.text, self.sounds.voice(request.language))
        except EngineError as exc:
            log.warning("voice: %s", exc)
            return
        audio.play(gain(sound.chunks, self.volume_db), sound.rate, cancel)
        close = getattr(sound.chunks, "close", None)
        if close is not None:   # cut short: the engine process ends now, nothing half is cached
            close()
