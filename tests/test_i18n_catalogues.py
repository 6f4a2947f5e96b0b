"""gettext catalogues: complete, compiled from their .po, and placeholders intact."""
from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from kiosk import i18n
from tests.test_fonts_coverage import load_msgfmt

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "assets" / "locales"
# Every screen string (shell, flow, maintenance) must be translated in every language:
# an empty msgstr would show Simplified Chinese to a 繁體 or English reader.
# Common Simplified-only characters: a 繁體 entry that still has one was copied, not translated.
SIMPLIFIED_ONLY = set("这们说请务办证码读机续击网络选择项认为时间发现页线录单条关开进还应过问题号门头电话书"
                      "复杂样种业东车长难将经给让级报处实验钟错锁")


def load_update_po():
    import importlib.util
    spec = importlib.util.spec_from_file_location("update_po", ROOT / "scripts" / "update_po.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def used_msgids(names: tuple[str, ...] = ()) -> set[str]:
    return set(load_update_po().used_msgids(names=names))


def catalogue(language: str) -> dict[str, str]:
    po = LOCALES / language / "LC_MESSAGES" / "kiosk.po"
    return load_msgfmt().parse_po(po.read_text(encoding="utf-8"))


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_mo_is_compiled_from_the_po(language):
    msgfmt = load_msgfmt()
    po = LOCALES / language / "LC_MESSAGES" / "kiosk.po"
    mo = po.with_suffix(".mo")
    assert mo.read_bytes() == msgfmt.build_mo(msgfmt.parse_po(po.read_text(encoding="utf-8"))), \
        f"{mo} is stale: run python scripts/msgfmt.py"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_string_is_translated_with_the_same_placeholders(language):
    entries = catalogue(language)
    po = LOCALES / language / "LC_MESSAGES" / "kiosk.po"
    listed = set(load_msgfmt().parse_po(po.read_text(encoding="utf-8"), keep_untranslated=True)) - {""}
    used = used_msgids()
    assert len(used) > 200 and {"维护模式", "证件信息无法核验", "办理结果"} <= used
    missing = sorted((used | listed) - set(entries))
    assert missing == [], f"{language} lacks {len(missing)} translations, e.g. {missing[:5]}"
    for msgid in used | listed:
        assert entries[msgid].strip(), f"{language}: empty translation of {msgid!r}"
        assert fields(entries[msgid]) == fields(msgid), f"{language}: placeholders differ in {msgid!r}"


def test_traditional_catalogue_has_no_simplified_copies():
    copied = {msgid: text for msgid, text in catalogue("zh_TW").items() if set(text) & SIMPLIFIED_ONLY}
    assert copied == {}, f"simplified characters left in zh_TW: {list(copied.values())[:3]}"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_catalogues_list_every_screen_string(language):
    po = LOCALES / language / "LC_MESSAGES" / "kiosk.po"
    listed = set(load_msgfmt().parse_po(po.read_text(encoding="utf-8"), keep_untranslated=True))
    missing = sorted(used_msgids() - listed)
    assert missing == [], f"run python scripts/update_po.py; {language} lacks {missing[:3]}"
    translated = catalogue(language)
    for msgid, text in translated.items():
        assert not msgid or fields(text) == fields(msgid), f"{language}: placeholders differ in {msgid!r}"


def test_translations_differ_where_they_must():
    zh_cn, zh_tw, en = (catalogue(lang) for lang in i18n.LANGUAGES)
    assert zh_tw["结束"] == "結束" and en["结束"] == "Finish"
    assert zh_tw["维护模式"] == "維護模式" and en["维护模式"] == "Maintenance"
    assert all(not re.search(r"[\u4e00-\u9fff]", v) or k in ("",) or "简" in v
               for k, v in en.items() if k), "English catalogue contains Chinese text"


def test_language_switch_applies_immediately():
    try:
        i18n.set_language("zh_TW")
        assert i18n.gettext("{seconds} 秒后返回首页").format(seconds=60) == "60 秒後返回首頁"
        i18n.set_language("en")
        assert i18n.gettext("继续办理") == "Continue"
        assert i18n.gettext("继续办理", "zh_CN") == "继续办理"
    finally:
        i18n.set_language("zh_CN")
    with pytest.raises(ValueError):
        i18n.set_language("fr")


def test_parse_po_handles_multiline_escapes_and_fuzzy():
    parse_po = load_msgfmt().parse_po
    text = '\n'.join(['msgid "a"', 'msgstr ""', '"b\\n"', '"c\\"d"', '', '#, fuzzy', 'msgid "x"', 'msgstr "y"',
                      '', 'msgid "untranslated"', 'msgstr ""'])
    assert parse_po(text) == {"a": 'b\nc"d'}
    with pytest.raises(ValueError):
        parse_po('msgid "a"\nmsgstr b')
