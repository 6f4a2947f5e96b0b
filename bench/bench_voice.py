"""Voice guidance: tap → first audio sample, for a cached prompt (goal <= 150 ms) and for
synthesised text (goal <= 400 ms).

Measured from the call a tap's handler makes (``KioskCore.speak`` for a screen's prompt,
``KioskCore.read_aloud`` for 朗读) to the moment the first samples were written into the
audio player's stdin pipe (``AudioOutput.first_sample_at``): the speaker's worker thread,
loading the cached WAV or running espeak-ng (streamed: playback starts before the whole
text is synthesised), the software gain, and starting the player process.  The player is
a stand-in reading the pipe (``cat > /dev/null``: this machine has no sound card, so
``aplay`` cannot open one); with ALSA the same path spawns ``aplay`` instead.  Medians of
repeated runs, each after the previous sound ended.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from devices.base import State, wait_for

GUIDE_TEXT = ("敬老优待证办理。办理条件：年满六十周岁的本市户籍老年人，或在本市居住的外地老年人。"
              "需要准备的材料：居民身份证原件，近期一寸免冠彩色照片一张。办理时限：十个工作日。")


def _core(tmp: Path):
    from kiosk import config as cfg
    from kiosk.core import KioskCore
    config = cfg.parse(f'[kiosk]\ndata_dir = "{tmp}"\n[heartbeat]\nenabled = false\n'
                       f'[platform]\nurl = "http://127.0.0.1:9"\ntimeout_s = 0.5\n'
                       f'[devices.audio]\ndriver = "pipe"\ncommand = "sh -c \'cat > /dev/null\'"\n', "bench.toml")
    core = KioskCore(config)
    core.start()
    assert wait_for(lambda: core.devices["audio"].status.state == State.READY, 5)
    return core


def _first_sample_ms(core, start) -> float:
    audio = core.devices["audio"]
    audio.first_sample_at = None
    t0 = time.perf_counter()
    assert start()
    assert wait_for(lambda: audio.first_sample_at is not None, 5, interval=0.0005)
    took = (audio.first_sample_at - t0) * 1000
    # let the sound end before the next run (a new request would cut in on it)
    wait_for(lambda: not audio._play_lock.locked() and core.voice._pending is None, 30, interval=0.005)
    time.sleep(0.05)
    return took


def run(quick: bool = False) -> list[dict]:
    repeat = 5 if quick else 15
    with tempfile.TemporaryDirectory() as tmp:
        core = _core(Path(tmp))
        try:
            core.voice.sounds.build(languages=("zh_CN",))           # what `kioskctl voice build` leaves
            cached = [_first_sample_ms(core, lambda: core.speak("screen.identify")) for _ in range(repeat)]
            synthesised = [_first_sample_ms(core, lambda: core.read_aloud(GUIDE_TEXT)) for _ in range(repeat)]
            sounds = core.voice.sounds
            t0 = time.perf_counter()
            whole = b"".join(sounds.engine.synthesize(GUIDE_TEXT, sounds.voice("zh_CN")).chunks)
            whole_ms = (time.perf_counter() - t0) * 1000
            seconds = len(whole) / 2 / 22050
        finally:
            core.stop()
    c, s = statistics.median(cached), statistics.median(synthesised)
    return [
        {"name": "voice: tap → first audio sample, cached prompt", "value": round(c, 1), "unit": "ms",
         "goal": "<= 150 ms", "ok": c <= 150,
         "detail": f"median of {repeat}, max {max(cached):.1f} ms; WAV cache → gain → player pipe"},
        {"name": "voice: tap → first audio sample, synthesised", "value": round(s, 1), "unit": "ms",
         "goal": "<= 400 ms", "ok": s <= 400,
         "detail": f"median of {repeat}, max {max(synthesised):.1f} ms; {len(GUIDE_TEXT)} characters of guide "
                   f"({seconds:.1f} s of speech, {whole_ms:.0f} ms to synthesise whole) streamed from espeak-ng"},
    ]


if __name__ == "__main__":
    for figure in run():
        print(figure)
