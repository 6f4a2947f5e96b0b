"""材料复用 of contact details, without a window: the reference platform returns a returning
resident's phone number and address only under the session's identity presence grant (sealed at
rest), and the core keeps them in the session only."""
from __future__ import annotations

import uuid

import pytest

from kiosk.samples import sample_card
from tests.test_core_usecases import WAIT_S, core, platform, prove_presence  # noqa: F401 (module fixtures)

PHONE, ADDRESS = "13987654321", "广东省深圳市福田区华富街道莲花二村5栋201房"


def applied_before(core, form: dict, service_id: str = "elderly-card") -> dict:  # noqa: F811
    card = sample_card()
    return core.platform.create_application(
        {"service_id": service_id, "applicant": {"name": card.name, "id_number": card.id_number},
         "form": form, "materials": [], "delivery": {"method": "pickup"}, "submitted_at": None, "offline": False},
        f"contact-test-{uuid.uuid4().hex}")


@pytest.fixture
def returning(core):  # noqa: F811
    """The sample resident, who gave a phone number and an address in an earlier application."""
    applied_before(core, {"name": "王秀英", "phone": "13800000000", "address": "旧地址：深圳市罗湖区"})
    applied_before(core, {"name": "王秀英", "phone": PHONE, "address": ADDRESS})
    applied_before(core, {"trade-name": "秀英小卖部", "premises-address": "深圳市某处"}, "sole-proprietor-registration")
    core.begin_session()
    assert core.identify(sample_card()) is None
    yield core.session
    core.end_session()


def test_the_latest_phone_and_address_come_back_under_the_grant_and_stay_in_the_session(core, returning):  # noqa: F811
    assert core.contact_on_record().result(WAIT_S) == {}          # no 人证核验 yet: nothing asked
    prove_presence(core)
    found = core.contact_on_record().result(WAIT_S)
    assert found == {"phone": PHONE, "address": ADDRESS}          # the latest with each, not a shop's premises
    assert returning.contact_on_record == found
    core.end_session()
    assert returning.contact_on_record == {} and returning.wiped


def test_the_platform_refuses_without_a_grant_or_with_a_pickup_grant(core, platform, returning):  # noqa: F811
    prove_presence(core)
    core.contact_on_record().result(WAIT_S)                       # one audited read
    from kiosk.platform import PlatformError
    with pytest.raises(PlatformError) as refused:
        core.platform.contact_on_record("not-a-grant")
    assert getattr(refused.value, "status", None) == 403
    number = applied_before(core, {"phone": PHONE}, "residence-permit-endorsement")   # 即办件: a document
    pickup_grant = core.platform.grant_by_pickup(number["pickup_code"], sample_card().id_number)
    with pytest.raises(PlatformError) as refused:
        core.platform.contact_on_record(pickup_grant)
    assert getattr(refused.value, "status", None) == 403
    rows = platform.store.all("SELECT action, target FROM audit_log WHERE action IN ('contact on record', 'read refused')")
    assert {"contact on record", "read refused"} <= {r["action"] for r in rows}
    assert all(PHONE not in (r["target"] or "") and "莲花二村" not in (r["target"] or "") for r in rows)


def test_contact_details_are_sealed_at_rest(core, platform, returning):  # noqa: F811
    raw = platform.store.all("SELECT form FROM applications")
    assert raw and all(PHONE not in str(r["form"]) and "莲花二村" not in str(r["form"]) for r in raw)


def test_a_resident_with_nothing_on_record_gets_nothing(core, platform):  # noqa: F811
    import dataclasses
    core.begin_session()
    try:
        stranger = dataclasses.replace(sample_card(), id_number="11010519491231002X", name="李四")
        assert core.identify(stranger) is None
        prove_presence(core)
        assert core.contact_on_record().result(WAIT_S) == {}
    finally:
        core.end_session()
