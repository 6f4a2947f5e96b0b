"""Voice guidance (kiosk/voice, devices/audio): the prompts as sound, the speaker, the
audio device, privacy, volume.  Real espeak-ng, real WAV files, real player processes;
the UI side is tests/test_ui_voice.py."""
from __future__ import annotations

import json
import re
import shutil
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from devices.base import State, wait_for
from kiosk import i18n
from kiosk import privacy
from kiosk.voice import prompts
from kiosk.voice.cache import PromptSounds, wav_bytes
from kiosk.voice.engine import EspeakEngine
from kiosk.voice.speaker import VOLUME_STEPS_DB, Speaker

ROOT = Path(__file__).resolve().parent.parent
CARD = json.loads((ROOT / "assets" / "cards" / "resident_elderly.json").read_text(encoding="utf-8"))
PERSONAL = [CARD["name"], CARD["id_number"], CARD["address"], "13812345678", "深圳市福田区莲花一村12栋304房"]
RMS_FLOOR = 0.03 * 32768          # speech from espeak-ng is ~0.08-0.11 of full scale (sox stat)

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def samples(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64), w.getframerate()


def spoken_units(text: str, language: str) -> int:
    """Characters for Chinese (one syllable each), letters for English."""
    if language.startswith("zh"):
        return len(re.findall(r"[\u4e00-\u9fff]", text))
    return len(re.findall(r"[A-Za-z]", text))


# -- the fixed prompts as sound ------------------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``kioskctl voice build --out DIR``, as the installer runs it."""
    from kiosk.cli import main
    out = tmp_path_factory.mktemp("voice") / "prompts"
    assert main(["voice", "build", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_fixed_prompt_is_built_non_silent_and_of_plausible_length(built, language):
    for prompt_id in prompts.ids():
        path = built / language / f"{prompt_id}.wav"
        assert path.is_file(), f"{language}/{prompt_id}.wav not built"
        pcm, rate = samples(path)
        seconds = pcm.size / rate
        rms = float(np.sqrt(np.mean(pcm ** 2)))
        text = prompts.text(prompt_id, language)
        units = spoken_units(text, language)
        assert units > 0, (prompt_id, text)
        assert rms > RMS_FLOOR, f"{language}/{prompt_id}: RMS {rms:.0f} is near silence"
        # Chinese: 0.12-0.6 s a syllable; English: 0.03-0.2 s a letter (+1 s of pauses)
        low, high = (0.12, 0.6) if language.startswith("zh") else (0.03, 0.2)
        assert low * units <= seconds <= high * units + 1.0, \
            f"{language}/{prompt_id}: {seconds:.2f} s for {units} units"


def test_traditional_text_is_read_like_simplified_and_english_differs(built):
    """The Mandarin voice reads 繁體 characters (the same sound as the 简体 prompt)."""
    zh_cn, _ = samples(built / "zh_CN" / "screen.identify.wav")
    zh_tw, _ = samples(built / "zh_TW" / "screen.identify.wav")
    en, _ = samples(built / "en" / "screen.identify.wav")
    assert prompts.text("screen.identify", "zh_TW") != prompts.text("screen.identify", "zh_CN")
    assert abs(zh_tw.size - zh_cn.size) < 0.1 * zh_cn.size
    assert abs(en.size - zh_cn.size) > 0.1 * zh_cn.size


def test_build_keeps_up_to_date_files_and_redoes_stale_ones(built, tmp_path):
    sounds = PromptSounds(EspeakEngine(), built)
    assert sounds.build(built) == []                      # all up to date
    assert sounds.cached("screen.home", "zh_CN") is not None
    cantonese = PromptSounds(EspeakEngine(), built, cantonese=True)
    assert cantonese.cached("screen.home", "zh_CN") is None   # another voice: stale
    assert cantonese.cached("screen.home", "en") is not None  # English is English either way


def test_cantonese_voice_sounds_different_from_mandarin(tmp_path):
    mandarin = PromptSounds(EspeakEngine(), tmp_path / "m")
    cantonese = PromptSounds(EspeakEngine(), tmp_path / "c", cantonese=True)
    assert (mandarin.voice("zh_TW"), cantonese.voice("zh_TW"), cantonese.voice("en")) == \
        ("cmn-latn-pinyin", "yue", "en")
    a = b"".join(mandarin.sound("screen.home", "zh_CN").chunks)
    b = b"".join(cantonese.sound("screen.home", "zh_CN").chunks)
    assert a and b and a != b


def test_prompts_never_carry_personal_data():
    """Fixed prompts are fixed: no placeholder a value could be formatted into, nothing
    that looks like an ID or phone number, in any language."""
    for prompt_id in prompts.ids():
        for language in i18n.LANGUAGES:
            text = prompts.text(prompt_id, language)
            assert "{" not in text and "%" not in text, (prompt_id, language, text)
            assert privacy.personal_data_in(text, PERSONAL) is None, (prompt_id, language, text)


# -- recorded prompts ------------------------------------------------------------------------
def test_recorded_prompt_is_preferred_over_synthesis(tmp_path):
    tone = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 16000) * 8000).astype("<i2").tobytes()
    (tmp_path / "rec" / "zh_CN").mkdir(parents=True)
    (tmp_path / "rec" / "zh_CN" / "screen.home.wav").write_bytes(wav_bytes(16000, tone))
    sounds = PromptSounds(EspeakEngine(), tmp_path / "cache", recorded_dir=tmp_path / "rec")
    recorded = sounds.sound("screen.home", "zh_CN")
    assert recorded.rate == 16000 and b"".join(recorded.chunks) == tone
    synthesised = sounds.sound("screen.home", "en")      # none recorded in English
    assert synthesised.rate == 22050 and len(b"".join(synthesised.chunks)) > 22050
    assert not (tmp_path / "cache" / "zh_CN").exists()   # the recording is not cached over


# -- the speaker ------------------------------------------------------------------------------
class Sink:
    """The simulated audio device, opened."""

    def __new__(cls):
        from devices.audio import SimulatedAudio
        audio = SimulatedAudio("audio")
        audio.open()
        assert wait_for(lambda: audio.status.state == State.READY, 3)
        return audio


def speaker_with(audio, values=(), **kwargs) -> Speaker:
    speaker = Speaker(PromptSounds(EspeakEngine(), Path(kwargs.pop("cache"))), lambda: audio,
                      personal_values=lambda: values, **kwargs)
    speaker.start()
    return speaker


def test_volume_steps_span_18_db_as_software_gain(tmp_path):
    audio = Sink()
    speaker = speaker_with(audio, cache=tmp_path)
    try:
        assert len(VOLUME_STEPS_DB) >= 3 and max(VOLUME_STEPS_DB) - min(VOLUME_STEPS_DB) >= 18
        levels = []
        for step in (0, len(VOLUME_STEPS_DB) - 1):
            speaker.set_volume(step)
            before = len(audio.played)
            assert speaker.speak("face.blink", "zh_CN")
            assert wait_for(lambda: len(audio.played) > before, 5)
            levels.append(audio.played[-1]["rms"])
        assert 20 * np.log10(levels[1] / levels[0]) == pytest.approx(18.0, abs=0.3)
    finally:
        speaker.stop()
        audio.close()


def test_read_aloud_refuses_the_residents_data(tmp_path):
    audio = Sink()
    speaker = speaker_with(audio, values=PERSONAL, cache=tmp_path)
    try:
        for text in (f"{CARD['name']}，您好", f"证件号码 {CARD['id_number']}", "手机 138 1234 5678",
                     CARD["address"], "11010519491231002X", "联系电话 075588886666", "王*英，您好",
                     "440304********0026", "138****5678"):
            assert not speaker.say(text, "zh_CN"), text
        assert speaker.refused == 9 and not speaker.requested
        # a screen's lines: the one with the name is dropped, the rest is read
        assert speaker.say(["敬老优待证办理", f"{CARD['name']}，您好", "请核对以下信息"], "zh_CN")
        assert speaker.refused == 10 and speaker.requested[-1] == ("text", "zh_CN")
        assert wait_for(lambda: audio.played, 5)
    finally:
        speaker.stop()
        audio.close()


def test_automatic_prompts_follow_config_elder_mode_and_the_residents_choice(tmp_path):
    audio = Sink()
    speaker = speaker_with(audio, cache=tmp_path, default_enabled=False, default_volume=1)
    try:
        assert not speaker.speak("screen.home", "zh_CN")          # off by the kiosk's config …
        assert speaker.speak("screen.home", "zh_CN", force=True)  # … 朗读 is spoken on request
        speaker.elder = True                                       # 长辈模式: on by default
        assert speaker.speak("screen.home", "zh_CN")
        speaker.set_enabled(False)                                 # the resident's choice wins
        assert not speaker.enabled
        speaker.set_volume(3)
        speaker.reset()                                            # the session ended
        assert speaker.enabled and speaker.volume == 1             # elder still on; volume back
        speaker.elder = False
        assert not speaker.enabled
    finally:
        speaker.stop()
        audio.close()


def test_a_newer_prompt_cuts_in_on_the_one_playing(tmp_path):
    from devices.audio import SimulatedAudio
    audio = SimulatedAudio("audio", realtime=True)
    audio.open()
    wait_for(lambda: audio.status.usable, 3)
    speaker = speaker_with(audio, cache=tmp_path)
    try:
        speaker.speak("idle.countdown", "zh_CN")                   # ~11 s of speech
        assert wait_for(lambda: audio.first_sample_at is not None, 5)
        speaker.speak("face.blink", "zh_CN")
        assert wait_for(lambda: len(audio.played) >= 2, 5)
        first, second = list(audio.played)[:2]
        assert first["cut"] and not second["cut"] and first["samples"] < 22050 * 3
    finally:
        speaker.stop()
        audio.close()


# -- the audio device --------------------------------------------------------------------------
def test_pipe_driver_hands_the_samples_to_a_real_player_process(tmp_path):
    from devices.audio import PipeAudio
    out = tmp_path / "played.raw"
    audio = PipeAudio("audio", None, [sys.executable, "-c",
                                      f"import sys; open({str(out)!r}, 'wb').write(sys.stdin.buffer.read())"])
    audio.open()
    assert wait_for(lambda: audio.status.state == State.READY, 3)
    pcm = (np.arange(10000) % 200 * 100).astype("<i2").tobytes()
    try:
        assert audio.play([pcm[:3001], pcm[3001:]], 16000)     # odd split: whole samples still
        assert out.read_bytes() == pcm and audio.first_sample_at is not None
    finally:
        audio.close()


def test_a_failing_player_marks_the_device_disconnected_and_never_raises(tmp_path):
    from devices.audio import PipeAudio
    audio = PipeAudio("audio", None, [sys.executable, "-c", "import sys; sys.stderr.write('audio open error: "
                                      "No such device\\n'); sys.exit(1)"])
    audio.open()
    assert wait_for(lambda: audio.status.state == State.READY, 3)
    try:
        assert audio.play([b"\x00\x01" * 4000], 16000) is False
        status = audio.status
        assert status.state == State.DISCONNECTED and status.code == "player_failed"
        assert "No such device" in status.reason
        assert audio.play([b"\x00\x01"], 16000) is False          # unusable: dropped quietly
    finally:
        audio.close()


def test_kiosk_without_a_sound_card_works_on_and_reports_it(tmp_path, make_config, monkeypatch):
    """driver alsa on a machine whose /proc/asound/cards lists no card: the audio device is
    DISCONNECTED in the core's device statuses (self-test, heartbeat), speaking is a no-op."""
    from devices import audio as audio_module
    from kiosk.core import KioskCore
    from kiosk.selftest import WARN, SelfTest
    cards = tmp_path / "cards"
    cards.write_text("--- no soundcards ---\n")
    monkeypatch.setattr(audio_module, "ALSA_CARDS", cards)
    config = make_config('[devices.audio]\ndriver = "alsa"\n[heartbeat]\nenabled = false\n'
                         '[platform]\nurl = "http://127.0.0.1:9"\ntimeout_s = 0.5\n')
    core = KioskCore(config)
    core.start()
    try:
        assert wait_for(lambda: core.device_statuses()["audio"]["code"] == "no_sound_card", 5)
        status = core.device_statuses()["audio"]
        assert status["state"] == "disconnected" and "no sound card" in status["reason"]
        core.begin_session()
        assert core.speak("screen.identify") is True      # queued; nothing raises, nothing plays
        assert core.read_aloud("请将身份证放在感应区") is True
        time.sleep(0.3)
        assert core.voice._worker.running
        result = SelfTest(config, core.devices, None).audio()
        assert result.status == WARN and "no sound card" in result.reason
        # a card is plugged in: the device notices (poll) and is ready
        cards.write_text(" 0 [Device         ]: USB-Audio - USB Audio Device\n")
        if shutil.which("aplay"):
            assert wait_for(lambda: core.devices["audio"].status.state == State.READY, 15)
    finally:
        core.stop()


def test_volume_and_voice_reset_when_the_session_ends(make_config):
    from kiosk.core import KioskCore
    config = make_config('[voice]\nvolume = 1\nenabled = false\n[heartbeat]\nenabled = false\n'
                         '[platform]\nurl = "http://127.0.0.1:9"\ntimeout_s = 0.5\n')
    core = KioskCore(config)
    core.start()
    try:
        core.begin_session()
        assert core.set_volume(3) == 3 and not core.voice_enabled
        core.set_voice(on=True)
        assert core.voice_enabled and core.voice.volume_db == 0.0
        core.end_session()                                   # 结束, idle timeout, maintenance
        assert core.voice.volume == 1 and core.voice.volume_db == VOLUME_STEPS_DB[1]
        assert not core.voice_enabled
        core.set_voice(elder=True)                           # the next resident in 长辈模式
        assert core.voice_enabled
    finally:
        core.stop()


def test_core_refuses_to_read_the_sessions_card_aloud(make_config):
    from devices.idcard.card import card_from_dict
    from kiosk.core import KioskCore
    config = make_config('[heartbeat]\nenabled = false\n[platform]\nurl = "http://127.0.0.1:9"\n')
    core = KioskCore(config)
    core.start()
    try:
        core.begin_session()
        core.session.set_card(card_from_dict(CARD))
        core.session.form = {"phone": "13912345678"}
        name = CARD["name"]
        for text in (name, f"{name[0]} {name[1:]}", "住在莲花一村", "12栋304房", "电话13912345678"):
            assert core.read_aloud(text) is False, text
        # the administrative area is what screens and receipts show of an address
        assert core.read_aloud("广东省深圳市福田区华富街道") is True
        assert core.read_aloud("敬老优待证办理") is True
    finally:
        core.stop()


# -- configuration -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, key", [
    ("[voice]\nvolume = 4\n", "voice.volume"),
    ("[voice]\nvolume = -1\n", "voice.volume"),
    ('[voice]\nengine = "festival"\n', "voice.engine"),
    ("[voice]\nwords_per_minute = 1000\n", "voice.words_per_minute"),
    ('[voice]\ncantonese = "yes"\n', "voice.cantonese"),
    ('[voice]\nloudness = 3\n', "loudness"),
    ('[devices.audio]\ndevice = 0\n', "devices.audio.device"),
])
def test_wrong_voice_config_names_the_key(text, key):
    from kiosk import config as cfg
    with pytest.raises(cfg.ConfigError) as err:
        cfg.parse(text, "bad.toml")
    assert key in str(err.value) and str(err.value).startswith("bad.toml: ")


def test_example_config_documents_the_voice_keys():
    from kiosk import config as cfg
    example = (ROOT / "kiosk.example.toml").read_text(encoding="utf-8")
    config = cfg.parse(example, "kiosk.example.toml")
    assert config.voice.model_dump() == cfg.defaults().voice.model_dump()
    assert config.devices.audio.model_dump() == cfg.defaults().devices.audio.model_dump()
