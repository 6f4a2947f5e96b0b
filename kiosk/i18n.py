"""UI chrome translations (gettext), switchable while the app runs.

Message ids are the Simplified Chinese wording a resident sees by default, so
the ``.kv`` files read naturally; ``assets/locales/<lang>/LC_MESSAGES/kiosk.mo``
holds 简体中文, 繁體中文 and English: the screens' chrome and the kiosk's own
words about the menu (why a service is unavailable, :mod:`kiosk.menu_availability`).
The menu's content (service names, guides, forms) is *not* translated here: it
arrives already localized in the signed menu (``kiosk.menu.text``).
``scripts/catalogues.py`` (Babel) collects new msgids and compiles the ``.mo``.
Strings with values use ``str.format`` names: ``_("{seconds} 秒后返回首页").format(seconds=60)``.

No Kivy: the Kivy layer re-reads labels when :func:`set_language` is called
(every label's text expression depends on the app's ``language`` property).
"""
from __future__ import annotations

import gettext as _gettext
import threading

from common.paths import LOCALE_DOMAIN, LOCALES

LANGUAGES = ("zh_CN", "zh_TW", "en")
DEFAULT_LANGUAGE = "zh_CN"
LOCALE_DIR = LOCALES
DOMAIN = LOCALE_DOMAIN

_lock = threading.Lock()
_catalogues: dict[str, _gettext.NullTranslations] = {}
_current = DEFAULT_LANGUAGE


def catalogue(language: str) -> _gettext.NullTranslations:
    """The compiled catalogue for ``language`` (loaded once; missing file is an error)."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r} (supported: {', '.join(LANGUAGES)})")
    with _lock:
        if language not in _catalogues:
            _catalogues[language] = _gettext.translation(
                DOMAIN, localedir=str(LOCALE_DIR), languages=[language])
        return _catalogues[language]


def set_language(language: str) -> None:
    global _current
    catalogue(language)  # validate before switching
    _current = language


def language() -> str:
    return _current


def gettext(message: str, language: str | None = None) -> str:
    """Translate ``message`` into ``language`` (default: the current UI language)."""
    return catalogue(language or _current).gettext(message)


def pgettext(context: str, message: str, language: str | None = None) -> str:
    """Translate ``message`` as used in ``context`` (a word that reads differently there)."""
    return catalogue(language or _current).pgettext(context, message)


_ = gettext


def N_(message: str) -> str:
    """Mark a string for the catalogues where it is defined; translate it where shown."""
    return message


def NC_(context: str, message: str) -> str:
    """:func:`N_` for a string translated with :func:`pgettext` in ``context``."""
    return message
