"""Bring the UI catalogues up to date with the strings the screens use.

Collects every ``tr("...")`` and ``N_("...")`` in ``screens/*.py`` and
``screens/*.kv``, keeps existing translations, adds new message ids (简体中文
gets the id itself; 繁體中文 and English start empty, which gettext shows as
the Simplified text until translated), drops ids no screen uses any more, and
recompiles the ``.mo`` files.

Usage: ``python scripts/update_po.py``, then translate the empty ``msgstr``.
"""
from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "assets" / "locales"
LANGUAGE_NAMES = {"zh_CN": "简体中文", "zh_TW": "繁體中文", "en": "English"}
MARKED = re.compile(r'''\b(?:tr|N_)\(\s*"((?:[^"\\]|\\.)*)"''')

_spec = importlib.util.spec_from_file_location("msgfmt", Path(__file__).with_name("msgfmt.py"))
msgfmt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(msgfmt)


def used_msgids(screens_dir: Path = ROOT / "screens", names: tuple[str, ...] = ()) -> list[str]:
    """Message ids in first-use order (files sorted by name; only ``names`` stems if given)."""
    seen: dict[str, None] = {}
    paths = sorted(screens_dir.glob("*.py")) + sorted(screens_dir.glob("*.kv"))
    for path in paths:
        if names and path.stem not in names:
            continue
        for raw in MARKED.findall(path.read_text(encoding="utf-8")):
            seen.setdefault(ast.literal_eval(f'"{raw}"'))
    return list(seen)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render(language: str, msgids: list[str], existing: dict[str, str]) -> str:
    lines = [f"# Kiosk UI chrome — {LANGUAGE_NAMES[language]}.",
             "# msgid is the Simplified Chinese wording; menu content is translated in the menu itself.",
             "# Update with: python scripts/update_po.py (adds new ids, compiles the .mo files)",
             'msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=UTF-8\\n"',
             f'"Language: {language}\\n"', ""]
    for msgid in msgids:
        translation = existing.get(msgid) or (msgid if language == "zh_CN" else "")
        lines += [f"msgid {_quote(msgid)}", f"msgstr {_quote(translation)}", ""]
    return "\n".join(lines)


def main() -> None:
    msgids = used_msgids()
    for language in LANGUAGE_NAMES:
        po = LOCALES / language / "LC_MESSAGES" / "kiosk.po"
        existing = msgfmt.parse_po(po.read_text(encoding="utf-8")) if po.exists() else {}
        po.parent.mkdir(parents=True, exist_ok=True)
        po.write_text(render(language, msgids, existing), encoding="utf-8")
        untranslated = sum(1 for m in msgids if not existing.get(m)) if language != "zh_CN" else 0
        print(f"{po}: {len(msgids)} messages, {untranslated} untranslated")
    for mo in msgfmt.compile_all(LOCALES):
        print(mo)


if __name__ == "__main__":
    main()
