"""The licence printer's calibrated offsets: the app's own file, not the config.

Maintenance mode measures a calibration sheet and saves the offsets here
(``data_dir/calibration/licence_printer.json``) because the config is
read-only to the app: it holds the kiosk's trust.  At start the saved offsets
override the config's ``offset_x_mm``/``offset_y_mm``.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from common.files import write_atomic

log = logging.getLogger(__name__)


def offsets_path(config) -> Path:
    return config.data_dir / "calibration" / "licence_printer.json"


def load(config) -> tuple[float, float] | None:
    """The saved (x, y) offsets in mm, or None (never calibrated, or the file is damaged)."""
    try:
        data = json.loads(offsets_path(config).read_text(encoding="utf-8"))
        return float(data["offset_x_mm"]), float(data["offset_y_mm"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError):
        log.warning("calibration file %s unreadable; using the config's offsets", offsets_path(config))
        return None


def save(config, offsets: tuple[float, float]) -> None:
    write_atomic(offsets_path(config), json.dumps({"offset_x_mm": offsets[0], "offset_y_mm": offsets[1]}))


def apply_saved(config, devices: dict) -> None:
    """Put the saved offsets on the licence printer (called once its device is built)."""
    printer, saved = devices.get("licence_printer"), load(config)
    if printer is not None and saved is not None and hasattr(printer, "offset_mm"):
        printer.offset_mm = saved
