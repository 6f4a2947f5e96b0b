import datetime as dt
from types import SimpleNamespace

import pytest

from kiosk import transaction as tx


def service(**kw):
    base = dict(flow="apply", identity="id_card", form=[{"id": "phone", "type": "phone", "required": True}],
                delivery=["onsite_print", "pickup"],
                guide={"materials": [
                    {"id": "id-card", "main": True, "reusable": True},
                    {"id": "hukou", "main": True, "reusable": True},
                    {"id": "photo", "main": False, "reusable": False},
                    {"id": "proof", "main": True, "reusable": False}]})
    base.update(kw)
    return SimpleNamespace(**base)


def test_plan_for_a_full_application_with_face_check():
    steps = tx.plan(service(identity="id_card_face"))
    assert steps == ["identify", "face", "form", "materials", "sign", "delivery", "confirm", "result", "rating"]


def test_reused_materials_are_not_scanned_again_and_secondary_come_last():
    todo = tx.materials_to_scan(service(), {"hukou"})
    assert [m["id"] for m in todo] == ["proof", "photo"]


def test_nothing_to_scan_and_single_delivery_skip_their_steps():
    s = service(guide={"materials": [{"id": "hukou", "main": True, "reusable": True}]}, delivery=["onsite_print"])
    assert tx.plan(s, {"hukou"}) == ["identify", "form", "sign", "confirm", "result", "rating"]


def test_other_flows_and_no_identity():
    # the platform shows a resident's records only after 人证核验 (a presence grant)
    assert tx.plan(service(flow="print_document")) == ["identify", "face", "print_document"]
    assert tx.plan(service(flow="query")) == ["identify", "face", "query"]
    assert tx.plan(service(flow="appeal", identity="none")) == ["appeal"]


def test_navigation_cannot_go_back_after_submission():
    t = tx.Transaction(service())
    while t.current != "result":
        t.advance()
    assert t.back() is None
    t2 = tx.Transaction(service())
    assert t2.back() is None
    t2.advance()
    assert t2.back() == "identify"


@pytest.mark.parametrize("spec, value, error", [
    ({"type": "phone", "required": True}, "", "required"),
    ({"type": "phone"}, "", None),
    ({"type": "phone"}, "1381234567", "phone"),
    ({"type": "phone"}, "13812345678", None),
    ({"type": "date"}, "2026-02-30", "date"),
    ({"type": "date"}, "2026-02-28", None),
    ({"type": "id-number"}, "11010519491231002X", None),
    ({"type": "id-number"}, "110105194912310021", "id_number"),
    ({"type": "select", "options": [{"value": "a"}]}, "b", "select"),
    ({"type": "text", "validation": {"pattern": "^[0-9]{6}$"}}, "51800", "pattern"),
    ({"type": "text", "validation": {"pattern": "[unclosed"}}, "x", None),
    ({"type": "text", "max_length": 3}, "abcd", "too_long"),
])
def test_validate_field(spec, value, error):
    assert tx.validate_field(spec, value) == error
    if error:   # told in every UI language, through the catalogues
        texts = {tx.problem_text(error, language) for language in ("zh_CN", "zh_TW", "en")}
        assert len(texts) == 3 and tx.problem_text(error, "zh_CN") == tx.PROBLEMS[error]


def test_prefill_from_card():
    card = SimpleNamespace(name="王淑芬", birth_date=dt.date(1949, 3, 1), address=None)
    form = [{"id": "n", "prefill": "card.name"}, {"id": "b", "prefill": "card.birth_date"},
            {"id": "a", "prefill": "card.address"}, {"id": "p"}]
    assert tx.prefill(form, card) == {"n": "王淑芬", "b": "1949-03-01"}
