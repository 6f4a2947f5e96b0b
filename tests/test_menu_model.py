"""The menu model: the sample menu, schema findings with JSON paths, availability and search."""
from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from kiosk.menu import MenuError, availability, load_menu, menu_from_document, text, validate

SAMPLE = Path(__file__).resolve().parent.parent / "assets" / "menus" / "sample.json"
READY = {"state": "ready", "reason": "", "code": ""}
ALL_READY = {role: dict(READY) for role in
             ("id_reader", "camera", "document_camera", "qr_scanner", "receipt_printer", "licence_printer")}
TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def menu():
    return load_menu(SAMPLE)


def sample_doc() -> dict:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def test_sample_covers_the_five_categories_with_real_services(menu):
    names = {c.name(): [s.name() for s in c.services] for c in menu.categories}
    assert list(names) == ["个人服务", "企业服务", "证照打印", "查询", "诉求建议"]
    assert sum(len(v) for v in names.values()) >= 15
    for expected in ("敬老优待证办理", "生育登记", "失业登记", "居住证签注", "计划生育证明"):
        assert expected in names["个人服务"]
    assert "个体工商户设立登记" in names["企业服务"]
    assert {"营业执照打印", "社保参保证明打印"} <= set(names["证照打印"])
    assert menu.service("business-licence-print").flow == "print_document"
    assert menu.service("application-progress").flow == "query"
    assert menu.service("appeal").flow == "appeal"


def test_every_service_guide_is_complete(menu):
    for service in menu.services():
        guide = service.guide
        assert guide["legal_basis"] and guide["time_limit"]["zh_CN"] and guide["office"]["zh_CN"], service.id
        assert all(lang in service.names for lang in ("zh_CN", "zh_TW", "en")), service.id
        if service.kind == "承诺件":
            assert service.promised_days > 0
        if service.flow == "apply":
            assert any(m["main"] for m in guide["materials"]), service.id


def test_names_fall_back_to_simplified_chinese(menu):
    service = menu.service("elderly-card")
    assert service.name("zh_TW") == "敬老優待證辦理"
    assert service.name("en") == "Senior Citizen Card"
    assert text({"zh_CN": "只有简体"}, "en") == "只有简体"
    assert text(None) == ""
    with pytest.raises(KeyError):
        menu.service("no-such-service")


def test_schema_findings_name_the_json_path():
    doc = sample_doc()
    service = doc["categories"][0]["services"][1]
    service["kind"] = "马上办"
    service["form"][0]["prefill"] = "card.nickname"
    del service["guide"]["time_limit"]
    service["form"][1]["validation"] = {"pattern": "([unclosed"}
    doc["categories"][2]["services"][0]["requires_devices"].append("fax")
    paths = {f.path: f.message for f in validate(doc)}
    assert "is not one of" in paths["$.categories[0].services[1].kind"]
    assert "card.nickname" in paths["$.categories[0].services[1].form[0].prefill"]
    assert "time_limit" in paths["$.categories[0].services[1].guide"]
    assert "regular expression" in paths["$.categories[0].services[1].form[1].validation.pattern"]
    assert "fax" in paths["$.categories[2].services[0].requires_devices[3]"]


def test_wrong_types_and_unknown_keys_are_findings_not_crashes():
    doc = sample_doc()
    doc["version"] = "2"
    doc["categories"][0]["services"][0]["offline"] = "yes"
    doc["categories"][0]["services"][0]["colour"] = "red"
    doc["categories"][1]["services"] = {"not": "a list"}
    paths = {f.path for f in validate(doc)}
    assert {"$.version", "$.categories[0].services[0].offline", "$.categories[0].services[0].colour",
            "$.categories[1].services"} <= paths
    assert [str(f) for f in validate([])] == ["$: expected an object, got a list"]


def test_another_schema_version_is_refused_up_front():
    doc = sample_doc()
    doc["schema"] = "kiosk-menu/2"
    assert [f.path for f in validate(doc)] == ["$.schema"]


def test_load_menu_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(MenuError, match="not valid JSON") as exc:
        load_menu(bad)
    assert "\n" not in str(exc.value)
    doc = sample_doc()
    doc["categories"][1]["services"].append(copy.deepcopy(doc["categories"][0]["services"][0]))
    with pytest.raises(MenuError, match="appears twice"):
        menu_from_document(doc)
    with pytest.raises(MenuError, match="cannot read"):
        load_menu(tmp_path / "missing.json")


def test_available_when_everything_is_ready(menu):
    for service in menu.services():
        assert availability(service, ALL_READY, "online", TODAY) == (True, None), service.id


def test_printer_out_of_paper_greys_out_services_that_print(menu):
    statuses = dict(ALL_READY, receipt_printer={"state": "fault", "reason": "DLE EOT 4: paper end", "code": "paper_out"})
    ok, reason = availability(menu.service("elderly-card"), statuses, "online", TODAY)
    assert not ok
    assert reason == {"zh_CN": "打印机缺纸，暂不可办理", "zh_TW": "印表機缺紙，暫不可辦理",
                      "en": "The printer is out of paper; this service is unavailable for now"}
    # the appeal needs no printer and stays available
    assert availability(menu.service("appeal"), statuses, "online", TODAY)[0]


def test_paper_out_blocks_even_when_reported_as_a_warning(menu):
    statuses = dict(ALL_READY, receipt_printer={"state": "warning", "code": "paper_out"})
    assert not availability(menu.service("elderly-card"), statuses, "online", TODAY)[0]
    statuses = dict(ALL_READY, receipt_printer={"state": "warning", "code": "paper_low"})
    assert availability(menu.service("elderly-card"), statuses, "online", TODAY)[0]


def test_faulty_disconnected_and_missing_devices(menu):
    service = menu.service("business-licence-print")
    ok, reason = availability(service, dict(ALL_READY, camera={"state": "fault", "code": "no_frames"}), "online", TODAY)
    assert not ok and reason["zh_CN"] == "摄像头故障，暂不可办理"
    ok, reason = availability(service, dict(ALL_READY, id_reader={"state": "disconnected"}), "online", TODAY)
    assert not ok and reason["zh_CN"] == "身份证阅读器未连接，暂不可办理"
    without = {k: v for k, v in ALL_READY.items() if k != "licence_printer"}
    ok, reason = availability(service, without, "online", TODAY)
    assert not ok and "证照打印机" in reason["zh_CN"] and reason["en"].startswith("This kiosk has no")


def test_offline_greys_out_services_that_need_the_platform(menu):
    ok, reason = availability(menu.service("business-licence-print"), ALL_READY, "offline", TODAY)
    assert not ok
    assert reason["zh_CN"] == "网络中断，该事项需联网办理"
    assert reason["zh_TW"] == "網路中斷，該事項需連網辦理" and reason["en"]
    assert availability(menu.service("elderly-card"), ALL_READY, "offline", TODAY) == (True, None)
    assert availability(menu.service("business-licence-print"), ALL_READY, "degraded", TODAY)[0]


def test_services_outside_their_dates_are_not_offered(menu):
    service = menu.service("elderly-card")
    assert availability(service, ALL_READY, "online", dt.date(2025, 12, 31))[1]["zh_CN"] == "该事项尚未开通"
    assert availability(service, ALL_READY, "online", dt.date(2029, 1, 1))[1]["zh_CN"] == "该事项已停止办理"


@pytest.mark.parametrize("query, expected", [
    ("jlyd", "敬老优待证办理"),
    ("JLYD", "敬老优待证办理"),
    ("jingLaoYouDai", "敬老优待证办理"),
    ("yyzz", "营业执照打印"),
    ("敬老", "敬老优待证办理"),
    ("優待", "敬老优待证办理"),
    ("senior", "敬老优待证办理"),
    ("sydj", "生育登记"),
    ("gtgsh", "个体工商户设立登记"),
    ("bjjdcx", "办件进度查询"),
])
def test_search_by_name_initials_and_full_pinyin(menu, query, expected):
    assert expected in [s.name() for s in menu.search(query)]


def test_search_ranks_prefix_matches_first_and_ignores_empty_queries(menu):
    assert menu.search("jl")[0].name() == "敬老优待证办理"
    assert menu.search("  ") == []
    assert menu.search("zzzzzz") == []


# -- the menu's numbers and dates are range-checked (issue 12.8) ------------------------------------------------

@pytest.mark.parametrize("change, path, words", [
    (lambda s: s.update(promised_days=400), "promised_days", "400 is out of range (allowed: 0 to 365)"),
    (lambda s: s.update(promised_days=-5), "promised_days", "-5 is out of range (allowed: 0 to 365)"),
    (lambda s: s.update(supplement_days=0), "supplement_days", "0 is out of range (allowed: 1 to 60)"),
    (lambda s: s.update(supplement_days=90), "supplement_days", "90 is out of range (allowed: 1 to 60)"),
    (lambda s: s["form"][4].update(max_length=10**9), "form[4].max_length", "out of range (allowed: 1 to 2000)"),
    (lambda s: s["form"][4].update(max_length=0), "form[4].max_length", "out of range (allowed: 1 to 2000)"),
    (lambda s: s.update(effective="2027-01-01", expires="2026-01-01"), "expires",
     "service expires (2026-01-01) before it becomes effective (2027-01-01)"),
])
def test_numbers_and_deadlines_out_of_range_are_findings(change, path, words):
    doc = sample_doc()
    service = doc["categories"][0]["services"][2]   # unemployment registration: a form with max_length
    change(service)
    findings = {f.path: f.message for f in validate(doc)}
    assert words in findings[f"$.categories[0].services[2].{path}"], findings
    with pytest.raises(MenuError, match=r"\$\.categories\[0\]\.services\[2\]"):
        menu_from_document(doc)


def test_supplement_days_default_to_ten_working_days(menu):
    """边办边补: the sample says 10 where a secondary material may be skipped; a service that does
    not say gets the default."""
    assert menu.service("elderly-card").supplement_days == 10
    doc = sample_doc()
    doc["categories"][0]["services"][0].pop("supplement_days", None)
    assert menu_from_document(doc).services().__next__().supplement_days == 10


def test_menu_version_must_be_positive():
    doc = sample_doc()
    doc["version"] = 0
    assert [str(f) for f in validate(doc)] == ["$.version: 0 is out of range (allowed: 1 to 2147483647)"]


def test_services_guides_and_forms_are_typed(menu):
    """Services are models read by attribute; guide and form stay JSON-shaped for the planner and screens."""
    service = menu.service("unemployment-registration")
    assert isinstance(service.effective, dt.date) and service.promised_days == 0
    assert service.form[4]["max_length"] == 60 and service.guide["materials"][0]["main"] is True
    with pytest.raises(AttributeError):
        service.kind = "承诺件"
