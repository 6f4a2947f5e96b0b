"""Search the menu by name, pinyin initials (jlyd → 敬老优待证办理) or full pinyin.

Elderly residents often cannot type Chinese on a touch keyboard but can tap
a few letters.  When a menu is loaded every service name becomes a sequence of
per-character reading sets (all readings of a polyphonic character, so 行
matches both xing and hang); a query then matches initials position by
position, or full pinyin as a run of whole readings ending in a partial one.
Readings are cached per character: a 500-service menu repeats a few hundred
characters, and pypinyin is slow per call.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Iterable

from pypinyin import Style, pinyin

_NOT_ALNUM = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
_HAN = re.compile(r"[\u3400-\u9fff]")


def _normalise(s: str) -> str:
    return _NOT_ALNUM.sub("", s.lower())


@functools.lru_cache(maxsize=16384)
def char_readings(char: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """Toneless readings of one character and their initials; a letter or digit reads as itself."""
    if not _HAN.match(char):
        return (char,), frozenset(char)
    readings = [_normalise(r) for r in pinyin(char, style=Style.NORMAL, heteronym=True)[0]]
    unique = tuple(dict.fromkeys(r for r in readings if r)) or (char,)
    return unique, frozenset(r[0] for r in unique)


@dataclass
class _Entry:
    service: object
    names: list[str]                  # normalised names in every language
    readings: list[tuple[str, ...]]   # per character of the zh_CN name
    initials: list[frozenset[str]]


def _initials_at(initials: list[frozenset[str]], q: str, start: int) -> bool:
    if start + len(q) > len(initials):
        return False
    return all(letter in initials[start + k] for k, letter in enumerate(q))


def _spelled_at(readings: list[tuple[str, ...]], q: str, start: int) -> bool:
    """Does ``q`` spell the readings from character ``start`` on (the last one may be cut short)?"""
    def match(i: int, j: int) -> bool:
        if j == len(q):
            return True
        if i == len(readings):
            return False
        rest = q[j:]
        for reading in readings[i]:
            if rest.startswith(reading) and match(i + 1, j + len(reading)):
                return True
            if reading.startswith(rest):
                return True
        return False
    return match(start, 0)


class SearchIndex:
    def __init__(self, services: Iterable):
        self._entries: list[_Entry] = []
        for service in services:
            per_char = [char_readings(c) for c in _normalise(service.names.get("zh_CN", ""))]
            names = [_normalise(n) for n in service.names.values() if isinstance(n, str)]
            self._entries.append(_Entry(service, names, [r for r, _ in per_char], [i for _, i in per_char]))

    def search(self, query: str, limit: int = 20) -> list:
        """Best matches first: a name, initials or pinyin that starts with the query, then contains it."""
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
        latin = q.isascii()  # a query typed in Chinese characters cannot be pinyin
        if latin and _initials_at(entry.initials, q, 0):
            return 1
        if latin and _spelled_at(entry.readings, q, 0):
            return 2
        if any(q in n for n in entry.names):
            return 3
        if latin:
            first = q[0]  # both kinds of match start on a character whose initials hold it
            for p in range(1, len(entry.initials)):
                if first in entry.initials[p] and (_initials_at(entry.initials, q, p)
                                                   or _spelled_at(entry.readings, q, p)):
                    return 4
        return None
