"""Text-to-speech engines behind one small interface.

An :class:`Engine` turns text into a :class:`Sound`: its sample rate and an iterator of
raw PCM chunks (signed 16-bit little-endian, mono), produced while the engine runs, so
playback can begin before the whole text is synthesised.  ``voice_for`` maps the UI
language (and the kiosk's Cantonese setting) to the engine's voice name.

:class:`EspeakEngine` runs Debian's ``espeak-ng``.  Mandarin is its
``cmn-latn-pinyin`` voice: espeak-ng 1.51's plain ``cmn`` ("latin as English") reads
Chinese characters as pinyin spelled out in English ("ni three hao three"), the
``-latn-pinyin`` variant of the same Mandarin voice does not.  Cantonese is ``yue``,
English ``en``.  Both Chinese voices read 简体 and 繁體 characters.
"""
from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass
from typing import Iterator, Protocol

READ_BYTES = 4096


@dataclass
class Sound:
    rate: int
    chunks: Iterator[bytes]   # S16LE mono PCM


class EngineError(RuntimeError):
    """The engine is missing or failed; the prompt is not spoken (never shown to residents)."""


class Engine(Protocol):
    name: str

    def voice_for(self, language: str, cantonese: bool = False) -> str: ...

    def synthesize(self, text: str, voice: str) -> Sound: ...


class EspeakEngine:
    name = "espeak-ng"
    VOICES = {"zh": "cmn-latn-pinyin", "yue": "yue", "en": "en"}

    def __init__(self, executable: str = "espeak-ng", words_per_minute: int = 150):
        self.executable = executable
        self.words_per_minute = words_per_minute

    def available(self) -> bool:
        return shutil.which(self.executable) is not None

    def voice_for(self, language: str, cantonese: bool = False) -> str:
        if language.startswith("zh"):
            return self.VOICES["yue" if cantonese else "zh"]
        return self.VOICES["en"]

    def synthesize(self, text: str, voice: str) -> Sound:
        if not self.available():
            raise EngineError(f"{self.executable} not installed (Debian package espeak-ng)")
        proc = subprocess.Popen(
            [self.executable, "-v", voice, "-s", str(self.words_per_minute), "--stdout", "--stdin"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        proc.stdin.write(text.encode("utf-8"))
        proc.stdin.close()
        try:
            rate, first = read_wav_header(proc.stdout)
        except EngineError:
            proc.kill()
            proc.wait()
            raise
        return Sound(rate, _pcm(proc, first))


def _pcm(proc: subprocess.Popen, first: bytes) -> Iterator[bytes]:
    try:
        if first:
            yield first
        while True:
            chunk = proc.stdout.read1(READ_BYTES) if hasattr(proc.stdout, "read1") else proc.stdout.read(READ_BYTES)
            if not chunk:
                break
            yield chunk
    finally:   # also when playback was cut short: no orphan engine
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def read_wav_header(stream) -> tuple[int, bytes]:
    """Read a streamed WAV's header up to its ``data`` chunk (espeak-ng writes placeholder
    sizes when it streams): the sample rate, and any PCM bytes already read."""
    head = _read_exact(stream, 12)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise EngineError("engine output is not a WAV stream")
    rate = None
    while True:
        chunk_id, size = struct.unpack("<4sI", _read_exact(stream, 8))
        if chunk_id == b"data":
            if rate is None:
                raise EngineError("WAV stream without a format chunk")
            return rate, b""
        body = _read_exact(stream, size + (size & 1))
        if chunk_id == b"fmt ":
            fmt, channels, rate, _bps, _align, bits = struct.unpack("<HHIIHH", body[:16])
            if fmt != 1 or channels != 1 or bits != 16:
                raise EngineError(f"unsupported WAV format {fmt}/{channels}ch/{bits}bit")


def _read_exact(stream, n: int) -> bytes:
    data = b""
    while len(data) < n:
        more = stream.read(n - len(data))
        if not more:
            raise EngineError("engine output ended early")
        data += more
    return data
