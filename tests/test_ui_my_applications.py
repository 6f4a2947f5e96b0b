"""我的办件 driven like a resident on the real app (Xvfb) against the reference platform: the
query screen's 我的办件 after the card and 人证核验, the list, 详情 with the timeline, 打印证照
into the existing print flow; offline, plain words and this kiosk's queued application."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.ui_driver import app_on_the_reference_platform, current, on_screen, pump_for, tap, until, walk

ROOT = Path(__file__).resolve().parent.parent
CARD = ROOT / "assets" / "cards" / "resident_elderly.json"
ID_NUMBER = json.loads(CARD.read_text(encoding="utf-8"))["id_number"]


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory):
    with app_on_the_reference_platform(tmp_path_factory.mktemp("myapps-ui"), "myapps-ui", timeout_s=2.0) as pair:
        yield pair


@pytest.fixture
def app(kiosk):
    return kiosk[0]


def application(service_id: str) -> dict:
    return {"service_id": service_id, "applicant": {"name": "王秀英", "id_number": ID_NUMBER},
            "form": {}, "materials": [], "delivery": {"method": "self_print"}, "submitted_at": None,
            "offline": False}


def to_my_applications(app):
    """办件进度查询 with the card read: the face screen checks the simulated camera's face (the
    presence grant), then the query screen offers 我的办件."""
    from devices.idcard.card import card_from_dict
    from kiosk.transaction import Transaction
    app.begin_session()
    app.core.session.service_id = "application-progress"
    app.core.session.set_card(card_from_dict(json.loads(CARD.read_text(encoding="utf-8"))))
    app.core.transaction = Transaction(app.menu.service("application-progress"))
    app.show_step(app.core.transaction.advance())
    on_screen(app, "query", timeout=60)
    query = current(app)
    until(lambda: query.identified, 5, "the presence grant")
    tap(query.ids.my_applications)
    on_screen(app, "my_applications")
    return current(app)


def row_of(screen, number: str):
    pump_for(0.3)
    return next(w for w in walk(screen.ids.applications) if type(w).__name__ == "ApplicationRow"
                and w.application_no == number)


def test_lists_the_residents_applications_with_detail_and_print(app, kiosk):
    _, platform = kiosk
    promised = app.core.platform.create_application(application("elderly-card"), str(uuid.uuid4()))
    done = app.core.platform.create_application(application("residence-permit-endorsement"), str(uuid.uuid4()))
    assert promised["status"] == "accepted" and done["documents"]
    screen = to_my_applications(app)
    until(lambda: screen.state == "list", 15, "the list")
    numbers = [r["application_no"] for r in screen.ids.applications.data]
    assert numbers[:2] == [done["application_no"], promised["application_no"]]
    assert screen.message == "您共有 2 件办件"
    waiting = next(r for r in screen.ids.applications.data if r["application_no"] == promised["application_no"])
    assert "已受理，正在办理" in waiting["line"] and promised["expected_completion"] in waiting["line"]
    assert not waiting["can_print"]
    tap(row_of(screen, promised["application_no"]).ids.detail)
    until(lambda: screen.state == "detail", 5, "the detail")
    assert "办理经过" in screen.detail and "已受理" in screen.detail and not screen.detail_printable
    app.set_language("en")                                  # reworded in place, every label translated
    pump_for(0.2)
    assert "Status" in screen.detail and "Steps so far" in screen.detail
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in screen.detail.replace("敬老优待证", ""))
    app.set_language("zh_CN")
    pump_for(0.2)
    tap(screen.ids.back_to_list)
    until(lambda: screen.state == "list", 5, "back to the list")
    row = row_of(screen, done["application_no"])
    assert row.can_print
    tap(row.ids.print)
    on_screen(app, "print_document")
    printing = current(app)
    until(lambda: printing.state == "list", 5, "the printable documents")
    assert [d["document_id"] for d in printing.documents] == [done["documents"][0]["document_id"]]
    tap(printing.ids.leave)          # 完成 goes back to 我的办件, which asks again
    on_screen(app, "my_applications")
    until(lambda: screen.state == "list", 15, "the list again")
    assert "王秀英" not in json.dumps(screen.ids.applications.data, ensure_ascii=False)


def test_offline_says_what_it_cannot_show_and_lists_what_this_kiosk_queued(app, kiosk):
    from kiosk.platform import PlatformClient
    core = app.core
    screen_core_platform, sender_platform = core.platform, core.sender.client
    dead = PlatformClient("http://127.0.0.1:9", token="x", timeout=1.0)
    core.sender.client = dead
    try:
        item_id = core.sender.enqueue("application", application("elderly-card"))
        screen = to_my_applications(app)   # the grant came from the real platform (face screen)
        core.platform = dead
        screen.prepare()
        until(lambda: screen.state not in ("loading",), 15, "the offline answer")
        assert screen.state == "offline"
        assert "暂时连不上政务服务平台" in screen.message and "尚未提交" in screen.message
        [queued] = [r for r in screen.ids.applications.data if r["queued"]]
        assert item_id[:8].upper() in queued["line"] and queued["title"] == "敬老优待证办理"
        assert not any(r["application_no"] for r in screen.ids.applications.data)
    finally:
        core.platform, core.sender.client = screen_core_platform, sender_platform
        core.sender.wake()
    until(lambda: core.outbox.stats()["depth"] == 0, 30, "the queued application delivered")


def test_a_skipped_material_is_handed_in_from_my_applications(app, kiosk):
    """边办边补 end to end: 待补交 with its deadline in 我的办件, 补交 opens the document camera for
    exactly the owed material, the supplement screen says it was received; then nothing is owed."""
    _, platform = kiosk
    body = dict(application("elderly-card"), skipped=["residence-permit"])
    applied = app.core.platform.create_application(body, str(uuid.uuid4()))
    [owed] = applied["owed"]
    screen = to_my_applications(app)
    until(lambda: screen.state == "list", 15, "the list")
    row = row_of(screen, applied["application_no"])
    assert row.owed == f"待补交：深圳经济特区居住证（非深圳户籍申请人提交）（截止 {owed['deadline']}）"
    assert row.can_supplement
    tap(row.ids.supplement)
    on_screen(app, "materials")
    materials = current(app)
    until(lambda: materials.todo, 10, "the owed material")
    assert [m["id"] for m in materials.todo] == ["residence-permit"]
    assert materials.material_main and materials.ids.next_button.disabled   # it cannot be skipped again
    until(lambda: materials.pages >= 1, 20, "the page to be auto-captured")
    tap(materials.ids.next_button)
    on_screen(app, "supplement")
    supplement = current(app)
    until(lambda: supplement.state not in ("idle", "sending"), 20, "the platform's answer")
    assert supplement.state == "done" and supplement.headline == "补交成功", supplement.detail
    assert "已收到" in supplement.detail
    rows = platform.store.all("SELECT status FROM supplements_owed WHERE application_no = ?",
                              (applied["application_no"],))
    assert [r["status"] for r in rows] == ["received"]
    tap(supplement.ids.mine)
    on_screen(app, "my_applications")
    mine = current(app)
    until(lambda: mine.state == "list", 15, "the list again")
    row = row_of(mine, applied["application_no"])
    assert row.owed.endswith("已补交，等待审核") and not row.can_supplement


def test_past_its_deadline_a_supplement_points_to_a_counter(app, kiosk):
    _, platform = kiosk
    body = dict(application("elderly-card"), skipped=["residence-permit"])
    applied = app.core.platform.create_application(body, str(uuid.uuid4()))
    with platform.store.write():
        platform.store.execute("UPDATE supplements_owed SET deadline = '2026-01-02' WHERE application_no = ?",
                               (applied["application_no"],))
    screen = to_my_applications(app)
    until(lambda: screen.state == "list", 15, "the list")
    row = row_of(screen, applied["application_no"])
    assert "已过补交期限（截止 2026-01-02），请到人工窗口办理" in row.owed and not row.can_supplement
    screen.supplement(applied["application_no"])          # even if asked: plain words, no camera
    assert screen.state == "failed" and "请到人工窗口办理" in screen.message
    assert app.manager.current == "my_applications"
