"""我的办件 through the core (KioskCore.resident_applications) against the real reference platform
on a loopback port: the platform's list online; offline, plain "cannot show" plus what this kiosk
still holds in its queue for the resident (and never someone else's)."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.samples import sample_card

ROOT = Path(__file__).resolve().parent.parent
WAIT_S = 30


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    from central.testing import run_server
    with run_server(tmp_path_factory.mktemp("myapps") / "central.db", kiosk_id="myapps-kiosk") as platform:
        yield platform


def make_core(tmp: Path, url: str, token: str):
    from kiosk import config as cfg
    from kiosk.core import KioskCore
    from kiosk.platform import PlatformClient
    config = cfg.parse(f'[kiosk]\nid = "myapps-kiosk"\ndata_dir = "{tmp / "var"}"\n'
                       f'[platform]\nurl = "{url}"\ntimeout_s = 2.0\n'
                       f"[queue]\nbackoff_base_s = 0.1\nbackoff_cap_s = 0.5\nmin_free_mb = 1\n"
                       f"[heartbeat]\nenabled = false\n"
                       f'[menu]\nbundle = "{ROOT / "assets" / "menus" / "sample.bundle"}"\n', "test.toml", ROOT)
    core = KioskCore(config)
    core.platform = PlatformClient(url, token=token, timeout=2.0)
    core.start()
    return core


def present(platform, core, card) -> None:
    """人证核验 at the real platform (as this kiosk): the session's presence grant."""
    import cv2
    from devices.camera_scenes import FaceScene
    from kiosk.platform import PlatformClient
    frame = cv2.imencode(".jpg", FaceScene().render(1280, 720))[1].tobytes()
    answer = PlatformClient(platform.base_url, token=platform.token).verify_identity(card.to_public_dict(), None,
                                                                                    frame)
    assert answer["match"], answer
    core.session.presence_grant = answer["presence_grant"]


def apply(core, card, service_id: str = "residence-permit-endorsement"):
    core.begin_session()
    assert core.identify(card) is None
    core.start_service(core.menu.service(service_id))
    core.session.form = {"phone": "13812345678"}
    core.session.delivery = {"method": "self_print"}
    return core.submit_application().result(WAIT_S)


def test_online_the_platforms_list_of_the_resident_present(platform, tmp_path):
    core = make_core(tmp_path, platform.base_url, platform.token)
    try:
        submitted = apply(core, sample_card())
        assert submitted.status == "submitted"
        present(platform, core, core.session.card)
        mine = core.resident_applications().result(WAIT_S)
        assert mine.online and mine.queued == []
        numbers = [a["application_no"] for a in mine.applications]
        assert numbers[0] == submitted.application_no
        first = mine.applications[0]
        assert first["service_id"] == "residence-permit-endorsement" and first["timeline"][0]["step"] == "received"
        core.end_session()
        core.begin_session()  # no grant: nothing is read
        from kiosk.platform import PresenceRequired
        with pytest.raises(PresenceRequired):
            core.resident_applications().result(WAIT_S)
    finally:
        core.stop()


def test_offline_says_so_and_lists_what_this_kiosk_queued_for_the_resident_only(platform, tmp_path):
    core = make_core(tmp_path, "http://127.0.0.1:9", platform.token)  # nothing listens there
    try:
        other = dataclass_replace(sample_card(), id_number="11010519491231002X")
        someone_else = apply(core, other)
        mine_queued = apply(core, sample_card())
        assert someone_else.status == mine_queued.status == "queued"
        present(platform, core, core.session.card)
        mine = core.resident_applications().result(WAIT_S)
        assert mine.online is False and mine.applications == []
        assert [q["reference"] for q in mine.queued] == [mine_queued.reference]
        assert mine.queued[0]["state"] == "queued" and mine.queued[0]["service_name"] == "居住证签注"
        assert core.outbox.stats()["depth"] == 2  # looking never takes anything out of the queue
    finally:
        core.stop()


def dataclass_replace(card, **changes):
    import dataclasses
    return dataclasses.replace(card, **changes)
