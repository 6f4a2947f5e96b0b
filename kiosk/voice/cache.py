"""Where a fixed prompt's sound comes from: a district's recording, else the WAV cache,
else the engine (and then the cache keeps it).

- Recorded: ``assets/voice/<language>/<prompt-id>.wav`` (16-bit PCM mono, any rate),
  always preferred when present.
- Cache: ``<cache dir>/<language>/<prompt-id>.wav``, written by ``kioskctl voice build``
  at install for every prompt of every language, and lazily the first time a missing one
  is spoken.  ``<language>/index.json`` records which engine, voice and text each file was
  made from: a changed translation, engine or the Cantonese setting makes it stale, and
  it is synthesised again.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import wave
from pathlib import Path
from typing import Iterator

from common.files import write_atomic
from common.paths import PROJECT_ROOT
from kiosk import i18n
from kiosk.voice import prompts
from kiosk.voice.engine import Engine, Sound

log = logging.getLogger(__name__)

RECORDED_DIR = PROJECT_ROOT / "assets" / "voice"
INDEX = "index.json"
READ_FRAMES = 2048


def read_wav(path: Path) -> Sound | None:
    """A 16-bit mono PCM WAV as a Sound (None, logged, for any other format)."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1 or w.getcomptype() != "NONE":
                log.warning("voice: %s is not 16-bit mono PCM; not used", path)
                return None
            rate, frames = w.getframerate(), w.readframes(w.getnframes())
    except (OSError, wave.Error, EOFError) as exc:
        log.warning("voice: cannot read %s: %s", path, exc)
        return None
    return Sound(rate, _slices(frames))


def wav_bytes(rate: int, pcm: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def _slices(pcm: bytes, size: int = READ_FRAMES * 2) -> Iterator[bytes]:
    for i in range(0, len(pcm), size):
        yield pcm[i:i + size]


class PromptSounds:
    def __init__(self, engine: Engine, cache_dir: Path, cantonese: bool = False,
                 recorded_dir: Path = RECORDED_DIR):
        self.engine = engine
        self.cache_dir = Path(cache_dir)
        self.cantonese = cantonese
        self.recorded_dir = Path(recorded_dir)
        self._lock = threading.Lock()

    def voice(self, language: str) -> str:
        return self.engine.voice_for(language, self.cantonese)

    def key(self, prompt_id: str, language: str) -> str:
        text = prompts.text(prompt_id, language)
        return hashlib.sha256(f"{self.engine.name}|{self.voice(language)}|{text}".encode()).hexdigest()[:16]

    def recorded(self, prompt_id: str, language: str) -> Path | None:
        path = self.recorded_dir / language / f"{prompt_id}.wav"
        return path if path.is_file() else None

    def cached(self, prompt_id: str, language: str, cache_dir: Path | None = None) -> Path | None:
        folder = (cache_dir or self.cache_dir) / language
        path = folder / f"{prompt_id}.wav"
        if not path.is_file():
            return None
        return path if self._index(folder).get(prompt_id) == self.key(prompt_id, language) else None

    def sound(self, prompt_id: str, language: str) -> Sound:
        """The prompt's sound: recorded, cached, or synthesised now (and cached once heard whole)."""
        for path in (self.recorded(prompt_id, language), self.cached(prompt_id, language)):
            if path is not None:
                sound = read_wav(path)
                if sound is not None:
                    return sound
        sound = self.engine.synthesize(prompts.text(prompt_id, language), self.voice(language))
        return Sound(sound.rate, self._keeping(prompt_id, language, sound))

    def _keeping(self, prompt_id: str, language: str, sound: Sound) -> Iterator[bytes]:
        parts: list[bytes] = []
        for chunk in sound.chunks:
            parts.append(chunk)
            yield chunk
        try:   # heard whole: keep it for next time
            self.store(self.cache_dir, prompt_id, language, sound.rate, b"".join(parts))
        except OSError as exc:
            log.warning("voice: cannot cache prompt %s: %s", prompt_id, exc)

    def store(self, cache_dir: Path, prompt_id: str, language: str, rate: int, pcm: bytes) -> Path:
        folder = cache_dir / language
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{prompt_id}.wav"
        with self._lock:
            write_atomic(path, wav_bytes(rate, pcm), mode=0o644)
            index = self._index(folder)
            index[prompt_id] = self.key(prompt_id, language)
            write_atomic(folder / INDEX, json.dumps(index, indent=1, sort_keys=True), mode=0o644)
        return path

    def build(self, out_dir: Path | None = None, languages=i18n.LANGUAGES, force: bool = False) -> list[Path]:
        """Synthesise every fixed prompt of every language into ``out_dir`` (default: the
        cache); up-to-date files are kept unless ``force``.  Returns the files written."""
        out_dir = Path(out_dir or self.cache_dir)
        written = []
        for language in languages:
            for prompt_id in prompts.ids():
                if not force and self.cached(prompt_id, language, out_dir) is not None:
                    continue
                sound = self.engine.synthesize(prompts.text(prompt_id, language), self.voice(language))
                written.append(self.store(out_dir, prompt_id, language, sound.rate, b"".join(sound.chunks)))
        return written

    @staticmethod
    def _index(folder: Path) -> dict:
        try:
            data = json.loads((folder / INDEX).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}
