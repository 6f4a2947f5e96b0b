"""No string a resident can see maps to a missing glyph in the font that draws it.

Kivy's SDL2 text provider has no per-glyph fallback: a character missing from
the face renders as a box.  So every catalogue string, every menu text, the
availability reasons and form messages, and the sample cards' names are
checked against the cmap of the face used for their language.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fontTools.ttLib import TTFont


ROOT = Path(__file__).resolve().parent.parent
FONTS = ROOT / "assets" / "fonts"
FACE_FOR_LANGUAGE = {"zh_CN": "NotoSansSC", "zh_TW": "NotoSansTC", "en": "NotoSansSC"}
RARE_NAME_CHARACTERS = "䶮堃喆𠮷"
_IGNORED = re.compile(r"[\s\u200b\ufe0f]")


def _cmap(face: str, weight: str) -> set[int]:
    return set(TTFont(FONTS / f"{face}-{weight}.otf", lazy=True).getBestCmap())


@pytest.fixture(scope="module")
def cmaps():
    return {(face, weight): _cmap(face, weight) for face in set(FACE_FOR_LANGUAGE.values())
            for weight in ("Regular", "Bold")}


def _missing(text: str, cmap: set[int]) -> str:
    return "".join(sorted({ch for ch in _IGNORED.sub("", text) if ord(ch) not in cmap}))


def _check(strings: dict[str, list[str]], cmaps) -> list[str]:
    problems = []
    for language, texts in strings.items():
        face = FACE_FOR_LANGUAGE[language]
        for weight in ("Regular", "Bold"):
            for text in texts:
                gaps = _missing(text, cmaps[(face, weight)])
                if gaps:
                    problems.append(f"{face}-{weight} ({language}) lacks {gaps!r} in {text[:40]!r}")
    return problems


def _po_strings(language: str) -> list[str]:
    with (ROOT / "assets" / "locales" / language / "LC_MESSAGES" / "kiosk.po").open("rb") as f:
        return [m.string for m in read_po(f) if m.id and m.string]


def _local_texts(node, out: dict[str, list[str]]) -> None:
    """Collect every LocalText (dict keyed by language) and every bare string."""
    if isinstance(node, dict):
        if node and set(node) <= set(FACE_FOR_LANGUAGE) and all(isinstance(v, str) for v in node.values()):
            for language, text in node.items():
                out[language].append(text)
            return
        for value in node.values():
            _local_texts(value, out)
    elif isinstance(node, list):
        for value in node:
            _local_texts(value, out)
    elif isinstance(node, str):
        for language in out:
            out[language].append(node)


def test_the_shipped_faces_are_the_chinese_ones():
    names = {f.name: TTFont(f, lazy=True)["name"].getDebugName(4) for f in FONTS.glob("*.otf")}
    assert names == {"NotoSansSC-Regular.otf": "Noto Sans CJK SC", "NotoSansSC-Bold.otf": "Noto Sans CJK SC Bold",
                     "NotoSansTC-Regular.otf": "Noto Sans CJK TC", "NotoSansTC-Bold.otf": "Noto Sans CJK TC Bold"}
    assert (FONTS / "OFL.txt").read_text(encoding="utf-8").count("SIL Open Font License") >= 1


def test_rare_name_characters_are_in_every_face(cmaps):
    for (face, weight), cmap in cmaps.items():
        assert _missing(RARE_NAME_CHARACTERS, cmap) == "", f"{face}-{weight}"


def test_every_catalogue_string_has_glyphs(cmaps):
    strings = {language: _po_strings(language) for language in FACE_FOR_LANGUAGE}
    assert all(len(v) > 20 for v in strings.values())
    assert _check(strings, cmaps) == []


def test_every_menu_text_and_resident_message_has_glyphs(cmaps):
    strings: dict[str, list[str]] = {language: [] for language in FACE_FOR_LANGUAGE}
    _local_texts(json.loads((ROOT / "assets/menus/sample.json").read_text(encoding="utf-8")), strings)
    assert len(strings["zh_CN"]) > 100
    assert _check(strings, cmaps) == []


def test_sample_card_names_have_glyphs(cmaps):
    cards = sorted((ROOT / "assets" / "cards").glob("*.json"))
    names = [json.loads(p.read_text(encoding="utf-8")).get("name", "") for p in cards]
    assert any(ch in "".join(names) for ch in RARE_NAME_CHARACTERS), "sample cards should exercise rare names"
    strings = {language: names + [RARE_NAME_CHARACTERS] for language in FACE_FOR_LANGUAGE}
    assert _check(strings, cmaps) == []


def test_the_check_catches_a_missing_glyph(cmaps):
    assert _check({"zh_CN": ["ok \U000F0000"]}, cmaps) != []
