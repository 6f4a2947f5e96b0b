"""补交 (边办边补): hand in the owed materials just scanned, and say what became of each.

Reached from 我的办件 → 补交: the core's supplement transaction had the materials screen scan
exactly the owed materials; this screen hands them in (``KioskCore.submit_supplement``, through
the durable queue) and tells the resident in plain words: received, saved and sent once online,
past its deadline (go to a counter), or no longer needed.
"""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk import workflow
from kiosk.i18n import N_
from screens.flow_screen import FlowScreen
from screens.widgets import local, tr
from screens.worker import when_done

OUTCOMES = {
    "received": N_("已收到，工作人员审核后会通知您"),
    "not_needed": N_("这份材料已不需要补交"),
    "deadline_passed": N_("已超过补交期限，请带上原件到人工窗口办理"),
    "no_pages": N_("没有拍到这份材料，请重新补交"),
}


class SupplementScreen(FlowScreen):
    help_text = N_("正在提交您补交的材料。提交后请取走材料原件。")
    state = StringProperty("idle")   # idle | sending | done | queued | failed
    headline = StringProperty("")
    detail = StringProperty("")

    def prepare(self, result=None, **_params) -> None:
        """Hand in the supplement transaction's scans; ``result``: show it instead (the tour)."""
        self.state, self.headline, self.detail = "idle", "", ""
        if result is not None:
            self._done(result)
            return
        if self.session is None or not getattr(self.app.core.transaction, "application_no", ""):
            return
        self.state, self.headline = "sending", tr("正在提交补交材料…")
        self.busy_text, self.busy = self.headline, True
        when_done(self.app.core.submit_supplement(), self._done, self._failed, name="submit-supplement")

    def forget(self) -> None:
        self.state, self.headline, self.detail = "idle", "", ""

    def _name(self, material_id: str) -> str:
        transaction = self.app.core.transaction
        for material in (transaction.materials_to_scan() if transaction is not None else []):
            if material["id"] == material_id:
                return local(material.get("names"), self.app.language)
        return material_id

    def _done(self, result) -> None:
        self.busy = False
        if result.status == workflow.SUBMITTED:
            self.state = "done"
            outcomes = result.response.get("results", [])
            received = all(o.get("outcome") == "received" for o in outcomes)
            self.headline = tr("补交成功") if received else tr("部分材料没有补交成功")
            self.detail = "\n".join(f"{self._name(o.get('material_id', ''))}：{tr(OUTCOMES.get(o.get('outcome'), OUTCOMES['received']))}"
                                    for o in outcomes)
        elif result.status == workflow.QUEUED:
            self.state = "queued"
            self.headline = tr("已保存，联网后自动提交")
            self.detail = tr("凭条编号：{reference}").format(reference=result.reference)
        else:
            self.state, self.headline = "failed", tr("补交没有成功，请到人工窗口办理")
            self.detail = ""

    def _failed(self, _exc: BaseException) -> None:
        self.busy = False
        self.state, self.headline = "failed", tr("本机暂时无法保存补交材料，请到人工窗口办理")
        self.detail = ""

    def back_to_mine(self) -> None:
        self.app.core.transaction = None
        self.app.show("my_applications", remember=False)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
