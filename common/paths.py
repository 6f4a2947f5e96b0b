"""Where the shipped assets live, owned by the lowest layer so devices need not import the kiosk."""
from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # assets/ and the dev var/ live here
ASSETS = PROJECT_ROOT / "assets"
LOCALES = ASSETS / "locales"       # the gettext catalogues (kiosk.mo) of every layer's words
LOCALE_DOMAIN = "kiosk"
