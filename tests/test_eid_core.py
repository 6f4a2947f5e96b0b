"""The kiosk core's e-ID use case (``KioskCore.identify_by_eid``) against the real reference
platform on loopback: a code issued by the platform's identity service (``central.eid``) starts
the session as a card read does, with the platform's presence grant; refusals come back with the
platform's machine code; a face check is still planned where the guide asks; a service whose form
takes the address from the card asks for the card."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from kiosk.eid import EidIdentity, EidNotAccepted
from kiosk.transaction import FACE, IDENTIFY

ROOT = Path(__file__).resolve().parent.parent
WAIT_S = 30
RESIDENT = "440304194905120026"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    from central.testing import run_server
    with run_server(tmp_path_factory.mktemp("eid") / "central.db", kiosk_id="eid-kiosk") as platform:
        yield platform


@pytest.fixture(scope="module")
def core(platform, tmp_path_factory):
    from kiosk import config as cfg
    from kiosk.core import KioskCore
    from kiosk.platform import PlatformClient
    tmp = tmp_path_factory.mktemp("core")
    config = cfg.parse(f'[kiosk]\nid = "eid-kiosk"\ndata_dir = "{tmp / "var"}"\n'
                       f'[platform]\nurl = "{platform.base_url}"\ntimeout_s = 3.0\n'
                       f"[queue]\nbackoff_base_s = 0.1\nbackoff_cap_s = 0.5\nmin_free_mb = 1\n"
                       f"[heartbeat]\nenabled = false\n"
                       f'[menu]\nbundle = "{ROOT / "assets" / "menus" / "sample.bundle"}"\n', "test.toml", ROOT)
    core = KioskCore(config)
    core.platform = PlatformClient(platform.base_url, token=platform.token, timeout=3.0)
    core.start()
    yield core
    core.stop()


@pytest.fixture(autouse=True)
def fresh_session(core):
    core.begin_session()
    yield
    core.end_session()


def issue(platform, region: str = "440304", ttl_s: float = 60.0, now: float | None = None) -> str:
    from central.eid import EidKey
    return EidKey.for_store(platform.store).issue(RESIDENT, "王秀英", region, ttl_s, now=now)[0]


def refusal(core, text: str) -> str:
    with pytest.raises(EidNotAccepted) as caught:
        core.identify_by_eid(text).result(WAIT_S)
    return caught.value.code


def test_an_eid_code_starts_the_session_like_a_card_with_the_platforms_grant(core, platform):
    identity = core.identify_by_eid(issue(platform)).result(WAIT_S)
    session = core.session
    assert isinstance(identity, EidIdentity) and session.card is identity
    assert (identity.name, identity.id_number, identity.birth_date.isoformat(), identity.gender) == \
        ("王秀英", RESIDENT, "1949-05-12", "女")
    assert identity.address is None and RESIDENT not in repr(identity)
    assert session.presence_grant and not session.identity_verified
    # the grant is the platform's for this resident at this kiosk: the resident's records open
    assert core.printable_documents().result(WAIT_S) == []
    assert platform.store.one("SELECT basis FROM presence_grants")["basis"] == "eid"


def test_a_face_check_is_still_planned_where_the_guide_asks(core, platform):
    core.identify_by_eid(issue(platform)).result(WAIT_S)
    assert core.start_service(core.menu.service("elderly-card")) == FACE      # id_card_face: face next
    core.identify_by_eid(issue(platform)).result(WAIT_S)
    assert core.start_service(core.menu.service("employment-registration")) != IDENTIFY   # id_card alone


def test_a_service_taking_the_address_from_the_card_asks_for_the_card(core, platform):
    service = core.menu.service("elderly-card")
    form = [dict(spec, prefill="card.address") if spec["id"] == "address" else spec for spec in service.form]
    needs_address = service.model_copy(update={"form": form})
    core.identify_by_eid(issue(platform)).result(WAIT_S)
    assert core.card_fields_missing(needs_address) == ["address"]
    assert core.start_service(needs_address) == IDENTIFY           # the card is read after all
    from kiosk.samples import sample_card
    card = sample_card()
    assert core.identify(card) is None and core.card_fields_missing(needs_address) == []
    assert core.session.card.address


def test_refusals_come_back_with_the_platforms_machine_code(core, platform):
    code = issue(platform)
    core.identify_by_eid(code).result(WAIT_S)
    core.begin_session()
    assert refusal(core, code) == "eid_used"
    assert core.session.card is None and core.session.presence_grant is None
    assert refusal(core, issue(platform, now=time.time() - 120)) == "eid_expired"
    assert refusal(core, issue(platform, region="110105")) == "eid_wrong_region"
    assert refusal(core, "EID1." + "A" * 80) == "eid_forged"
    assert refusal(core, "https://example.com/pay?order=1") == "not_eid"     # never sent to the platform


def test_a_kiosk_locked_out_is_told_so_not_that_the_network_is_down(core, platform):
    from central import limits
    store = platform.store
    for _ in range(limits.EID_PER_KIOSK.max_failures):
        limits.fail(store, limits.EID_PER_KIOSK, "eid-kiosk", "eid-kiosk")
    try:
        assert refusal(core, issue(platform)) == "locked"
    finally:
        with store.write():
            store.execute("DELETE FROM rate_limits")


def test_offline_the_resident_is_told_so(core, platform):
    from kiosk.platform import PlatformClient
    real, core.platform = core.platform, PlatformClient("http://127.0.0.1:9", token="x", timeout=0.5)
    try:
        assert refusal(core, issue(platform)) == "offline"
    finally:
        core.platform = real
