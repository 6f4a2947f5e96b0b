"""Compile gettext ``.po`` catalogues to ``.mo`` without GNU gettext installed.

Why: the kiosk image has no gettext toolchain, and the catalogues are small.
Handles what our catalogues use: msgctxt-free entries, multi-line strings,
C escapes, and the header entry.  Fuzzy entries are skipped, like msgfmt.

Usage: ``python scripts/msgfmt.py`` compiles every
``assets/locales/*/LC_MESSAGES/*.po`` next to itself.
"""
from __future__ import annotations

import ast
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_po(text: str, keep_untranslated: bool = False) -> dict[str, str]:
    """msgid -> msgstr for every non-fuzzy entry (untranslated ones only if asked)."""
    entries: dict[str, str] = {}
    msgid = msgstr = None
    section = None
    fuzzy = pending_fuzzy = False

    def flush() -> None:
        if msgid is not None and msgstr is not None and (msgstr or keep_untranslated) and not fuzzy:
            entries[msgid] = msgstr

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("#,") and "fuzzy" in line:
            pending_fuzzy = True
        if not line or line.startswith("#"):
            continue
        if line.startswith("msgid "):
            flush()
            msgid, msgstr, section = _unquote(line[6:], lineno), None, "id"
            fuzzy, pending_fuzzy = pending_fuzzy, False
        elif line.startswith("msgstr "):
            msgstr, section = _unquote(line[7:], lineno), "str"
        elif line.startswith('"'):
            if section == "id":
                msgid += _unquote(line, lineno)
            elif section == "str":
                msgstr += _unquote(line, lineno)
            else:
                raise ValueError(f"line {lineno}: string outside an entry")
        else:
            raise ValueError(f"line {lineno}: unsupported syntax: {line[:40]}")
    flush()
    return entries


def _unquote(token: str, lineno: int) -> str:
    token = token.strip()
    if not (token.startswith('"') and token.endswith('"')):
        raise ValueError(f"line {lineno}: expected a quoted string")
    return ast.literal_eval(token)


def build_mo(entries: dict[str, str]) -> bytes:
    """GNU .mo layout: header, two sorted string tables, then the strings."""
    ids = sorted(entries)
    id_bytes = [k.encode("utf-8") for k in ids]
    str_bytes = [entries[k].encode("utf-8") for k in ids]
    count = len(ids)
    header_size = 7 * 4
    table_size = count * 8
    data_start = header_size + 2 * table_size
    offsets_ids, offsets_strs, blob = [], [], b""
    for b in id_bytes:
        offsets_ids.append((len(b), data_start + len(blob)))
        blob += b + b"\0"
    for b in str_bytes:
        offsets_strs.append((len(b), data_start + len(blob)))
        blob += b + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, count, header_size, header_size + table_size, 0, 0)
    out += b"".join(struct.pack("<2I", *o) for o in offsets_ids)
    out += b"".join(struct.pack("<2I", *o) for o in offsets_strs)
    return out + blob


def compile_all(locale_dir: Path) -> list[Path]:
    written = []
    for po in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        mo.write_bytes(build_mo(parse_po(po.read_text(encoding="utf-8"))))
        written.append(mo)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "assets" / "locales"
    for path in compile_all(target):
        print(path)
