"""``kioskctl voice build|list|say``: the prompt cache, and a technician's sound check.

``voice build [--out DIR] [--force]`` synthesises every fixed prompt of every language
into ``DIR/<language>/<prompt-id>.wav`` (default DIR: the kiosk's cache, ``[voice]
cache_dir`` or ``data_dir/voice``), keeping files already up to date; ``kioskctl
install`` runs it.  ``voice say PROMPT`` plays one prompt on the configured audio device.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from devices.commands import CommandError
from kiosk import i18n
from kiosk.voice import prompts
from kiosk.voice.engine import EngineError


def register(sub) -> None:
    p = sub.add_parser("voice", help="spoken prompts: build the WAV cache, list, play one")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="synthesise every fixed prompt of every language (DIR/<language>/<prompt-id>.wav)")
    build.add_argument("--out", help="output directory (default: the kiosk's voice cache)")
    build.add_argument("--force", action="store_true", help="synthesise again even when up to date")
    build.set_defaults(func=_build)
    listing = actions.add_parser("list", help="the prompt ids and their text in a language")
    listing.add_argument("--language", default="zh_CN", choices=i18n.LANGUAGES)
    listing.set_defaults(func=_list)
    say = actions.add_parser("say", help="play one prompt on the configured audio device")
    say.add_argument("prompt", help="prompt id (voice list)")
    say.add_argument("--language", default="zh_CN", choices=i18n.LANGUAGES)
    say.set_defaults(func=_say)


def _build(args) -> int:
    from kiosk.voice import runtime
    config = args.context.load_config(args.config)
    sounds = runtime.prompt_sounds(config)
    out = Path(args.out) if args.out else sounds.cache_dir
    started = time.monotonic()
    try:
        written = sounds.build(out, force=args.force)
    except EngineError as exc:
        raise CommandError(f"voice build: {exc}") from None
    total = len(prompts.ids()) * len(i18n.LANGUAGES)
    print(f"{out}: {len(written)} of {total} prompt files written, {total - len(written)} up to date "
          f"({time.monotonic() - started:.1f} s)")
    return 0


def _list(args) -> int:
    for prompt_id in prompts.ids():
        print(f"{prompt_id}\t{prompts.text(prompt_id, args.language)}")
    return 0


def _say(args) -> int:
    from devices import registry
    from devices.base import wait_for
    from common.events import EventBus
    from kiosk.voice import runtime
    if args.prompt not in prompts.PROMPTS:
        raise CommandError(f"no prompt {args.prompt!r} (see: kioskctl voice list)", 2)
    config = args.context.load_config(args.config)
    audio = registry.build("audio", config, EventBus())
    audio.open()
    try:
        wait_for(lambda: audio.status.code != "not_opened", 3)
        if not audio.status.usable:
            raise CommandError(f"audio: {audio.status.state.value}: {audio.status.reason}", 1)
        sound = runtime.prompt_sounds(config).sound(args.prompt, args.language)
        from kiosk.voice.speaker import VOLUME_STEPS_DB, gain
        ok = audio.play(gain(sound.chunks, VOLUME_STEPS_DB[config.voice.volume]), sound.rate, threading.Event())
        print("played" if ok else f"not played: {audio.status.reason}")
        return 0 if ok else 1
    finally:
        audio.close()
