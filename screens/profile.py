"""Which window profile the kiosk runs with; read by the bootstrap (Kivy's config,
before Kivy starts) and by the app (refusing to close), so kept apart from both."""
from __future__ import annotations

from kiosk.config import Config


def production_profile(config: Config) -> bool:
    """Full-screen, cursor-less, unclosable: a production kiosk or a fullscreen display."""
    return config.is_production or config.display.fullscreen
