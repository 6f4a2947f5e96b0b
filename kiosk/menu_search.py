"""Search the menu by name, pinyin initials (jlyd → 敬老优待证办理) or full pinyin.

Elderly residents often cannot type Chinese on a touch keyboard but can tap
a few letters, so every service name gets its pinyin initials and full pinyin
(every reading of a polyphonic character, so 行 matches both x and h) when the
menu is loaded; a query is then only string matching on small precomputed keys.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Iterable

from pypinyin import Style, pinyin

_MAX_READINGS = 16  # cap on combinations of polyphonic readings per name
_NOT_ALNUM = re.compile(r"[^0-9a-z\u3400-\u9fff]+")


def _normalise(s: str) -> str:
    return _NOT_ALNUM.sub("", s.lower())


def pinyin_keys(name: str) -> tuple[set[str], set[str]]:
    """(initials, full pinyin) spellings of ``name``; non-Chinese characters kept as written."""
    full = pinyin(name, style=Style.NORMAL, heteronym=True, errors=lambda chars: list(chars.lower()))
    readings = [[_normalise(r) for r in options if _normalise(r)] or [""] for options in full]
    initials: set[str] = set()
    spelled: set[str] = set()
    for combo in itertools.islice(itertools.product(*readings), _MAX_READINGS):
        spelled.add("".join(combo))
        initials.add("".join(r[:1] for r in combo))
    return initials, spelled


@dataclass
class _Entry:
    service: object
    names: list[str]          # normalised names in every language
    initials: set[str]
    spelled: set[str]


class SearchIndex:
    def __init__(self, services: Iterable):
        self._entries: list[_Entry] = []
        for service in services:
            zh = service.names.get("zh_CN", "")
            initials, spelled = pinyin_keys(zh)
            names = [_normalise(n) for n in service.names.values() if isinstance(n, str)]
            self._entries.append(_Entry(service, names, initials, spelled))

    def search(self, query: str, limit: int = 20) -> list:
        """Best matches first: name or spelling starts with the query, then contains it."""
        q = _normalise(query)
        if not q:
            return []
        scored = []
        for order, entry in enumerate(self._entries):
            rank = self._rank(entry, q)
            if rank is not None:
                scored.append((rank, order, entry.service))
        scored.sort(key=lambda item: item[:2])
        return [service for _, _, service in scored[:limit]]

    @staticmethod
    def _rank(entry: _Entry, q: str) -> int | None:
        if any(n.startswith(q) for n in entry.names):
            return 0
        if any(k.startswith(q) for k in entry.initials):
            return 1
        if any(k.startswith(q) for k in entry.spelled):
            return 2
        if any(q in n for n in entry.names):
            return 3
        if any(q in k for k in entry.initials) or any(q in k for k in entry.spelled):
            return 4
        return None
