"""Voice guidance (issue 14): spoken prompts in the resident's language.

- :mod:`kiosk.voice.prompts` -- the one catalogue of fixed prompts (id -> gettext msgid).
- :mod:`kiosk.voice.engine` -- the engine interface and espeak-ng (Mandarin, Cantonese, English).
- :mod:`kiosk.voice.cache` -- recorded prompts first, then a WAV cache of synthesised ones.
- :mod:`kiosk.voice.speaker` -- :class:`Speaker`: one worker thread that synthesises,
  applies the volume (software gain) and hands the samples to the audio device.

No Kivy here: the screens reach voice only through ``KioskCore.speak`` and friends.
"""
