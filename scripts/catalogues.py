"""Keep the gettext catalogues in step with the code, with Babel.

Why a script and not the runtime module: extraction and compilation happen on
a developer's machine; the kiosk only reads the compiled ``.mo`` files, which
are committed, so a fresh clone runs without this step (and without Babel).

    python scripts/catalogues.py update    # collect new msgids into every .po, then compile
    python scripts/catalogues.py compile   # .po -> .mo (after translating the empty msgstr)

Strings are collected from ``screens/*.py``, ``screens/*.kv``, ``kiosk/*.py``, ``kiosk/voice/*.py``
and the receipt's ``devices/printers/receipt_texts.py``:
``tr("…")``, ``N_("…")``, ``_("…")``, ``gettext("…")``, and with a context
``NC_("ctx", "…")`` / ``pgettext("ctx", "…")``.  简体中文 gets the msgid as its
translation; 繁體中文 and English start empty (shown in Simplified until
translated).  Msgids no code uses any more are dropped.
"""
from __future__ import annotations

import argparse
import ast
import io
import re
import sys
from pathlib import Path
from typing import IO, Iterator

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "assets" / "locales"
DOMAIN = "kiosk"
LANGUAGES = ("zh_CN", "zh_TW", "en")  # kiosk.i18n.LANGUAGES; not imported so the script runs without the app
KEYWORDS = {**DEFAULT_KEYWORDS, "tr": None, "NC_": ((1, "c"), 2)}
SOURCES = (("screens", "*.py", "python"), ("screens", "*.kv", "kv"), ("kiosk", "*.py", "python"),
           ("kiosk/voice", "*.py", "python"),   # the spoken prompts' catalogue
           ("devices/printers", "receipt_texts.py", "python"))  # devices read the same catalogues
_KV_CALL = re.compile(r'''\btr\(\s*("(?:[^"\\]|\\.)*")''')


def extract_kv(fileobj: IO[bytes], keywords, comment_tags, options) -> Iterator[tuple]:
    """Babel extraction method for Kivy ``.kv`` files: the ``tr("…", app.language)`` calls."""
    for lineno, line in enumerate(fileobj.read().decode("utf-8").splitlines(), 1):
        for literal in _KV_CALL.findall(line):
            yield lineno, "tr", ast.literal_eval(literal), []


def po_path(language: str, locales: Path = LOCALES) -> Path:
    return locales / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def used_messages(root: Path = ROOT) -> dict[tuple[str | None, str], None]:
    """(context, msgid) of every marked string, in first-use order."""
    methods = {"python": "python", "kv": extract_kv}
    found: dict[tuple[str | None, str], None] = {}
    for folder, pattern, method in SOURCES:
        # the folder's own files only: kiosk/ and screens/ hold no sub-packages with UI text
        for _name, _line, message, _comments, context in extract_from_dir(
                root / folder, [(pattern, methods[method])], keywords=KEYWORDS,
                directory_filter=lambda _subdir: False):
            if isinstance(message, str) and message:
                found.setdefault((context, message))
    return found


def read_catalogue(language: str, locales: Path = LOCALES) -> Catalog:
    with po_path(language, locales).open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


def mo_bytes(catalogue: Catalog) -> bytes:
    """The compiled catalogue (fuzzy entries left out, as msgfmt does)."""
    out = io.BytesIO()
    write_mo(out, catalogue, use_fuzzy=False)
    return out.getvalue()


def update(locales: Path = LOCALES) -> None:
    used = used_messages()
    for language in LANGUAGES:
        old = read_catalogue(language, locales)
        new = Catalog(locale=language, domain=DOMAIN, header_comment=old.header_comment,
                      project="kiosk", fuzzy=False)
        new.mime_headers = old.mime_headers
        for context, msgid in used:
            existing = old.get(msgid, context)
            translation = existing.string if existing is not None and existing.string else ""
            new.add(msgid, translation or (msgid if language == "zh_CN" else ""), context=context)
        with po_path(language, locales).open("wb") as f:
            write_po(f, new, width=0, no_location=True, omit_header=False, sort_output=False)
        untranslated = sum(1 for m in new if m.id and not m.string)
        print(f"{po_path(language, locales)}: {len(used)} messages, {untranslated} untranslated")
    compile_all(locales)


def compile_all(locales: Path = LOCALES) -> None:
    for language in LANGUAGES:
        mo = po_path(language, locales).with_suffix(".mo")
        mo.write_bytes(mo_bytes(read_catalogue(language, locales)))
        print(mo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("update", "compile"))
    args = parser.parse_args(argv)
    update() if args.action == "update" else compile_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
