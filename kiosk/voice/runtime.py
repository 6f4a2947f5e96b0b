"""The kiosk's speaker, built from the config for the core (``KioskCore.voice``)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from kiosk.voice.cache import PromptSounds
from kiosk.voice.engine import EngineError, EspeakEngine, Sound
from kiosk.voice.speaker import Speaker


class NoEngine:
    """``[voice] engine = "none"``: only recorded prompts are spoken."""
    name = "none"

    def voice_for(self, language: str, cantonese: bool = False) -> str:
        return language

    def synthesize(self, text: str, voice: str) -> Sound:
        raise EngineError("no speech engine configured (voice.engine = none)")


def cache_dir(config) -> Path:
    return config.path(config.voice.cache_dir) if config.voice.cache_dir else config.data_dir / "voice"


def prompt_sounds(config) -> PromptSounds:
    voice = config.voice
    engine = EspeakEngine(words_per_minute=voice.words_per_minute) if voice.engine == "espeak-ng" else NoEngine()
    return PromptSounds(engine, cache_dir(config), cantonese=voice.cantonese)


def personal_values(session) -> list[str]:
    """Everything of the resident's the session holds as text: card, form, delivery."""
    if session is None:
        return []
    values: list[str] = []
    card = session.card
    if card is not None:
        for attr in ("name", "english_name", "chinese_name", "id_number", "address", "permit_number"):
            value = getattr(card, attr, None)
            if isinstance(value, str):
                values.append(value)
    for source in (session.form, session.delivery):
        values += _strings(source.values() if isinstance(source, dict) else ())
    return values


def _strings(items: Iterable) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            out += _strings(item.values())
        elif isinstance(item, (list, tuple)):
            out += _strings(item)
    return out


def for_core(core) -> Speaker:
    voice = core.config.voice
    return Speaker(prompt_sounds(core.config), audio=lambda: core.devices.get("audio"),
                   default_enabled=voice.enabled, default_volume=voice.volume,
                   personal_values=lambda: personal_values(core.session))
