"""Menu lint: 兜底条款, missing legal basis or time limit, unknown fields, duplicates, translations."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.menu_lint import lint_document, lint_file

SAMPLE = Path(__file__).resolve().parent.parent / "assets" / "menus" / "sample.json"


def doc() -> dict:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def paths(findings) -> list[str]:
    return [f.path for f in findings]


def test_sample_menu_is_clean():
    assert lint_file(SAMPLE) == []


@pytest.mark.parametrize("clause", [
    "其他材料", "其它材料", "其他相关材料", "其他有关材料", "其他必要材料", "其他证明材料", "其他资料",
    "户口簿等材料", "房产证明等相关材料", "有关部门要求的其他材料", "相关部门规定提交的材料",
    "法律法规规定的其他条件", "其他相關材料", "戶口簿等資料",
])
def test_catch_all_material_is_an_error(clause):
    d = doc()
    d["categories"][0]["services"][0]["guide"]["materials"][0]["names"]["zh_CN"] = clause
    findings = lint_document(d)
    assert paths(findings) == ["$.categories[0].services[0].guide.materials[0].names.zh_CN"]
    assert "兜底条款" in findings[0].message


@pytest.mark.parametrize("key, value", [
    ("conditions", "符合其他条件的"), ("office", "视情况到相关窗口办理"), ("fee", "按有关部门规定的其他标准"),
])
def test_catch_all_anywhere_in_the_guide(key, value):
    d = doc()
    guide = d["categories"][1]["services"][0]["guide"]
    if isinstance(guide[key], list):
        guide[key][0]["zh_TW"] = value
        expected = f"$.categories[1].services[0].guide.{key}[0].zh_TW"
    else:
        guide[key]["zh_CN"] = value
        expected = f"$.categories[1].services[0].guide.{key}.zh_CN"
    assert expected in paths(lint_document(d))


def test_catch_all_in_english_too():
    d = doc()
    d["categories"][0]["services"][2]["guide"]["materials"][1]["names"]["en"] = "Termination proof and other relevant documents"
    assert paths(lint_document(d)) == ["$.categories[0].services[2].guide.materials[1].names.en"]


def test_ordinary_wording_is_not_a_catch_all():
    d = doc()
    d["categories"][0]["services"][0]["guide"]["conditions"][0]["zh_CN"] = "其他街道户籍居民也可在本街道申请（通办通取）"
    assert lint_document(d) == []


def test_missing_legal_basis_time_limit_and_main_material():
    d = doc()
    service = d["categories"][0]["services"][3]["guide"]
    service["legal_basis"] = []
    service["time_limit"] = {"zh_CN": " ", "zh_TW": "", "en": ""}
    for m in service["materials"]:
        m["main"] = False
    found = lint_document(d)
    # time_limit with blank zh_CN is a schema error, reported alone (content rules need a sound shape)
    assert paths(found) == ["$.categories[0].services[3].guide.time_limit"]
    service["time_limit"] = {"zh_CN": "即时办结", "zh_TW": "即時辦結", "en": "On the spot"}
    assert paths(lint_document(d)) == ["$.categories[0].services[3].guide.legal_basis",
                                       "$.categories[0].services[3].guide.materials"]


def test_prefill_and_validation_naming_unknown_fields():
    d = doc()
    form = d["categories"][0]["services"][0]["form"]
    form[0]["prefill"] = "card.photo"
    form[2]["validation"] = {"patern": "^1\\d{10}$"}
    assert paths(lint_document(d)) == ["$.categories[0].services[0].form[0].prefill",
                                       "$.categories[0].services[0].form[2].validation.patern"]


def test_duplicate_ids_name_both_places():
    d = doc()
    d["categories"][1]["services"][0]["id"] = "elderly-card"
    d["categories"][0]["services"][1]["form"][1]["id"] = "name"
    d["categories"][3]["id"] = "personal"
    found = {f.path: f.message for f in lint_document(d)}
    assert "first used at $.categories[0].services[0].id" in found["$.categories[1].services[0].id"]
    assert "duplicate form field" in found["$.categories[0].services[1].form[1].id"]
    assert "duplicate category" in found["$.categories[3].id"]


def test_untranslated_names():
    d = doc()
    d["categories"][0]["names"].pop("zh_TW")
    d["categories"][0]["services"][0]["names"]["en"] = "敬老优待证办理"
    d["categories"][0]["services"][0]["form"][0]["label"]["en"] = ""
    assert paths(lint_document(d)) == ["$.categories[0].names.zh_TW", "$.categories[0].services[0].names.en",
                                       "$.categories[0].services[0].form[0].label.en"]


def test_simplified_characters_in_traditional_text():
    d = doc()
    d["categories"][0]["services"][0]["names"]["zh_TW"] = "敬老优待证办理"
    d["categories"][0]["services"][0]["guide"]["office"]["zh_TW"] = "福田區任一街道行政服务大廳"
    found = {f.path: f.message for f in lint_document(d)}
    assert "'优证办'" in found["$.categories[0].services[0].names.zh_TW"]
    assert "'务'" in found["$.categories[0].services[0].guide.office.zh_TW"]
    assert len(found) == 2


def test_device_list_must_cover_identity_and_flow():
    d = doc()
    d["categories"][2]["services"][0]["requires_devices"] = ["id_reader"]
    messages = [f.message for f in lint_document(d)]
    assert any("needs camera" in m for m in messages)
    assert any("flow print_document needs licence_printer or receipt_printer" in m for m in messages)


def test_not_json_is_one_finding(tmp_path):
    bad = tmp_path / "menu.json"
    bad.write_text('{"schema": ')
    [finding] = lint_file(bad)
    assert finding.path == "$" and "not valid JSON" in finding.message
