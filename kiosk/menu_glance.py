"""The home screen's glance at the menu: what its category tiles show, cached.

Starting the core (devices, queue, verifying the signed menu, building the pinyin
index) takes about a second; until it has, the home screen would be empty -- and a
watchdog restart would show that to whoever is standing there.  So whenever the menu
store activates a verified menu it writes this glance (category ids, icons, names and
service names in every language; no personal data) to ``data_dir/menus/glance.json``,
and the home screen draws its tiles from it in its first frame, before the core starts.

The glance is display only: what a resident opens comes from the verified menu once
the core is ready (a tap before that waits for it), and a category the verified menu
no longer has is never opened.  It is written by the kiosk itself, atomically, in its
own data directory; an unreadable or foreign glance is ignored.  Only ``json`` and
``common.files`` are imported: this runs before the first frame.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.files import write_atomic

log = logging.getLogger(__name__)

FORMAT = 1


def glance_path(data_dir: Path) -> Path:
    return Path(data_dir) / "menus" / "glance.json"


def _text(names: dict, lang: str) -> str:
    return names.get(lang) or names.get("zh_CN") or ""


@dataclass(frozen=True)
class ServiceGlance:
    id: str
    names: dict

    def name(self, lang: str = "zh_CN") -> str:
        return _text(self.names, lang)


@dataclass(frozen=True)
class CategoryGlance:
    """Quacks like :class:`kiosk.menu_schema.Category` for what a home tile reads."""
    id: str
    icon: str
    names: dict
    services: tuple[ServiceGlance, ...]

    def name(self, lang: str = "zh_CN") -> str:
        return _text(self.names, lang)


@dataclass(frozen=True)
class MenuGlance:
    version: int
    categories: tuple[CategoryGlance, ...]


def document(menu: Any) -> dict:
    """The glance of a verified :class:`kiosk.menu.Menu` as a JSON-able document."""
    def names(obj) -> dict:
        raw = obj.names
        return {"zh_CN": raw} if isinstance(raw, str) else {k: v for k, v in dict(raw).items() if v}
    return {"format": FORMAT, "version": menu.version,
            "categories": [{"id": c.id, "icon": c.icon, "names": names(c),
                            "services": [{"id": s.id, "names": names(s)} for s in c.services]}
                           for c in menu.categories]}


def save(data_dir: Path, menu: Any) -> bool:
    """Write the glance of ``menu`` if it differs from the one on disk; returns whether it wrote."""
    path = glance_path(data_dir)
    data = json.dumps(document(menu), ensure_ascii=False, sort_keys=True).encode("utf-8")
    try:
        if path.exists() and path.read_bytes() == data:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
        return True
    except OSError as exc:   # a glance is a convenience: the verified menu still works
        log.warning("menu: cannot write the home screen's glance: %s", exc)
        return False


def load(data_dir: Path) -> MenuGlance | None:
    """The cached glance, or None (none yet, unreadable, another format)."""
    try:
        doc = json.loads(glance_path(data_dir).read_bytes())
        if doc.get("format") != FORMAT:
            return None
        return MenuGlance(int(doc["version"]), tuple(
            CategoryGlance(str(c["id"]), str(c["icon"]), dict(c["names"]),
                           tuple(ServiceGlance(str(s["id"]), dict(s["names"])) for s in c["services"]))
            for c in doc["categories"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("menu: the home screen's glance is unreadable (%s); tiles wait for the core", exc)
        return None
