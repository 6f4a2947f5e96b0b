"""gettext catalogues: complete, compiled from their .po by Babel, and placeholders intact."""
from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from kiosk import i18n

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "assets" / "locales"
# Every screen string (shell, flow, maintenance) must be translated in every language:
# an empty msgstr would show Simplified Chinese to a 繁體 or English reader.
# Common Simplified-only characters: a 繁體 entry that still has one was copied, not translated.
SIMPLIFIED_ONLY = set("这们说请务办证码读机续击网络选择项认为时间发现页线录单条关开进还应过问题号门头电话书"
                      "复杂样种业东车长难将经给让级报处实验钟错锁")


def load_catalogues_script():
    """scripts/catalogues.py is a script, not a package module: load it by path."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("catalogues", ROOT / "scripts" / "catalogues.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def key(context: str | None, msgid: str) -> str:
    """How gettext files a message with a context: ``context\x04msgid``."""
    return f"{context}\x04{msgid}" if context else msgid


def used_msgids() -> set[str]:
    return {key(context, msgid) for context, msgid in load_catalogues_script().used_messages()}


def listed(language: str) -> dict[str, str]:
    """Every entry of the .po, translated or not (the header left out)."""
    with (LOCALES / language / "LC_MESSAGES" / "kiosk.po").open("rb") as f:
        return {key(m.context, m.id): m.string for m in read_po(f) if m.id and not m.fuzzy}


def catalogue(language: str) -> dict[str, str]:
    return {msgid: text for msgid, text in listed(language).items() if text}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_mo_is_compiled_from_the_po(language):
    """The committed .mo (what a fresh clone runs) is exactly Babel's compilation of the .po."""
    script = load_catalogues_script()
    mo = script.po_path(language).with_suffix(".mo")
    assert mo.read_bytes() == script.mo_bytes(script.read_catalogue(language)), \
        f"{mo} is stale: run python scripts/catalogues.py compile"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_string_is_translated_with_the_same_placeholders(language):
    entries = catalogue(language)
    in_po = set(listed(language))
    used = used_msgids()
    assert len(used) > 200 and {"维护模式", "证件信息无法核验", "办理结果", "device\x04打印机"} <= used
    missing = sorted((used | in_po) - set(entries))
    assert missing == [], f"{language} lacks {len(missing)} translations, e.g. {missing[:5]}"
    for msgid in used | in_po:
        assert entries[msgid].strip(), f"{language}: empty translation of {msgid!r}"
        assert fields(entries[msgid]) == fields(msgid), f"{language}: placeholders differ in {msgid!r}"


def test_traditional_catalogue_has_no_simplified_copies():
    copied = {msgid: text for msgid, text in catalogue("zh_TW").items() if set(text) & SIMPLIFIED_ONLY}
    assert copied == {}, f"simplified characters left in zh_TW: {list(copied.values())[:3]}"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_catalogues_list_every_screen_string(language):
    missing = sorted(used_msgids() - set(listed(language)))
    assert missing == [], f"run python scripts/catalogues.py update; {language} lacks {missing[:3]}"
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


def test_kv_extraction_reads_tr_calls_with_escapes():
    import io
    kv = 'Label:\n    text: tr("结束", app.language)\n    hint: tr("第\\"{n}\\"页", app.language)\n    other: "不收"\n'
    found = list(load_catalogues_script().extract_kv(io.BytesIO(kv.encode()), None, None, None))
    assert [(line, message) for line, _, message, _ in found] == [(2, "结束"), (3, '第"{n}"页')]


def test_device_names_are_translated_in_their_context():
    assert i18n.pgettext("device", "打印机", "zh_TW") == "印表機"
    assert i18n.pgettext("device", "打印机", "en") == "printer"
    assert i18n.pgettext("device", "打印机", "zh_CN") == "打印机"
