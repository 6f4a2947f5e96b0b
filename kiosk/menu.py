"""The service menu: categories of services, each with its 办事指南 and form.

This is the menu's public face.  :func:`load_menu` / :func:`menu_from_document`
build a :class:`Menu` only from a document without any schema problem
(``MenuError``, one line); the schema and its findings are in
:mod:`kiosk.menu_schema`, live availability in :mod:`kiosk.menu_availability`,
content rules that are policy rather than shape (兜底条款, missing legal basis,
untranslated names) in :mod:`kiosk.menu_lint`.  Nothing here imports Kivy.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Iterator

from pydantic import PrivateAttr

from kiosk.menu_availability import availability
from kiosk.menu_schema import LANGS, Category, Finding, MenuDocument, Service, findings_of, text, validate

__all__ = ["LANGS", "Category", "Finding", "Menu", "MenuError", "Service", "availability", "load_menu",
           "menu_from_document", "text", "validate"]


class MenuError(Exception):
    """A menu that cannot be used, phrased as one line for a technician."""


class Menu(MenuDocument):
    """A validated menu with lookup by id and search; build with :func:`load_menu` or :func:`menu_from_document`."""

    _services: dict[str, Service] = PrivateAttr()
    _index: Any = PrivateAttr(default=None)
    _index_lock: Any = PrivateAttr()

    def model_post_init(self, _context: Any) -> None:
        self._services = {}
        self._index_lock = threading.Lock()
        for service in self.services():
            if service.id in self._services:
                raise MenuError(f"service id {service.id!r} appears twice")
            self._services[service.id] = service

    def prepare_search(self) -> None:
        """Build the pinyin search index (pypinyin's import alone is ~0.4 s): the menu store
        does it in the background once the menu is shown; :meth:`search` waits for it."""
        with self._index_lock:
            if self._index is None:
                from kiosk.menu_search import SearchIndex  # pypinyin is heavy; only search needs it
                self._index = SearchIndex(self._services.values())

    def services(self) -> Iterator[Service]:
        for category in self.categories:
            yield from category.services

    def service(self, service_id: str) -> Service:
        try:
            return self._services[service_id]
        except KeyError:
            raise KeyError(f"no service {service_id!r} in menu version {self.version}") from None

    def search(self, query: str, limit: int = 20) -> list[Service]:
        """Services matching a name fragment (any language), pinyin initials or full pinyin."""
        self.prepare_search()
        return self._index.search(query, limit)

    def __repr__(self) -> str:
        return f"<Menu v{self.version} {self.region} {len(self._services)} services>"


def menu_from_document(doc: Any) -> Menu:
    """A Menu from an already parsed document; MenuError names the first problem."""
    menu, findings = findings_of(doc, Menu)
    if findings:
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        raise MenuError(f"{findings[0]}{more}")
    return menu


def load_menu(path: str | Path) -> Menu:
    """Read and validate a plain menu JSON file (the payload a signed bundle carries)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise MenuError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:
        raise MenuError(f"{path}: not valid JSON: {exc}") from None
    try:
        return menu_from_document(doc)
    except MenuError as exc:
        raise MenuError(f"{path}: {exc}") from None
