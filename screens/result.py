"""办理结果: 已提交 with the application number, or 已保存，联网后自动提交.

The number is shown large: it is what the resident needs to ask about the
application later, and the only record in hand when the receipt could not be
printed.  即办件 / 承诺件 say when to expect the outcome; an on-site-print
即办件 whose document is ready offers 打印证照 straight away.
"""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty

from kiosk import workflow
from kiosk.i18n import N_
from screens.flow_screen import FlowScreen, next_step
from screens.widgets import local, tr
from screens.worker import when_done


class ResultScreen(FlowScreen):
    help_text = N_("您的申请已保存。请记下或拍下办件编号，凭它可以查询办理进度。")
    status = StringProperty("")
    headline = StringProperty("")
    number = StringProperty("")
    timing = StringProperty("")
    receipt_note = StringProperty("")
    owed = StringProperty("")              # 边办边补: what is still owed, and by when
    can_print = BooleanProperty(False)
    can_reprint = BooleanProperty(False)   # the receipt failed: 重新打印凭条 once staff fixed the printer

    def prepare(self, **_params) -> None:
        session, service = self.session, self.service
        if session is None or service is None or not session.application:
            return
        application, lang = session.application, self.app.language
        receipt = application.get("receipt", {})
        self.status = application.get("status", workflow.QUEUED)
        self.headline = workflow.outcome_text(self.status, lang)
        self.number = application.get("application_no") or application.get("reference") or ""
        if self.status == workflow.REFUSED:
            self.timing = tr("请凭此编号到人工窗口咨询。")
        elif service.kind == "即办件":
            self.timing = tr("即办件：提交后当场办结。") if self.status == workflow.SUBMITTED else tr(
                "即办件：联网提交后即可办结。")
        else:
            expected = receipt.get("expected_completion")
            days = receipt.get("promised_days") or service.promised_days
            self.timing = (tr("承诺件：预计 {date} 前办结。").format(date=expected) if expected
                           else tr("承诺件：{days} 个工作日内办结。").format(days=days))
        self.owed = self._owed_text(service, receipt.get("owed") or [], lang)
        printed = application.get("receipt_printed")
        self.receipt_note = "" if printed or self.status == workflow.REFUSED else tr(
            "凭条没有打印出来，但您的申请已经保存。请拍下或记下上面的编号；需要帮助请找现场工作人员。")
        self.can_reprint = bool(self.receipt_note) and "submit_result" in application
        self.can_print = bool(self.status == workflow.SUBMITTED and service.kind == "即办件"
                              and session.delivery.get("method", "onsite_print") == "onsite_print"
                              and any(d.get("print_token") for d in receipt.get("documents", [])))

    def entry_prompt(self) -> str | None:
        """请取走凭条 only when it printed; else what to do without it."""
        application = self.session.application if self.session is not None else {}
        if application.get("receipt_printed"):
            return "receipt.take"
        return "receipt.failed" if self.receipt_note else "screen.result"

    @staticmethod
    def _owed_text(service, owed: list, lang: str) -> str:
        if not owed:
            return ""
        names = {m.get("id"): m.get("names") for m in service.guide.get("materials", [])}
        lines = [tr("待补交：{name}（截止 {date}）").format(
            name=local(names.get(o["material_id"]), lang) or o["material_id"], date=o["deadline"]) for o in owed]
        return "\n".join(lines + [tr("请在截止日期前到任一自助终端，点“查询”→“办件进度查询”→“我的办件”补交。")])

    def forget(self) -> None:
        self.owed = ""
        self.status = self.headline = self.number = self.timing = self.receipt_note = ""
        self.can_print = self.can_reprint = False

    def relabel(self) -> None:
        self.prepare()

    def reprint_receipt(self) -> None:
        """重新打印凭条: the same receipt again, in a worker; the number stays on screen."""
        if self.session is None or self.busy:
            return
        self.busy_text, self.busy = tr("正在打印凭条…"), True

        def printed(_result) -> None:
            self.busy, self.can_reprint, self.receipt_note = False, False, ""
            self.app.core.speak("receipt.take")

        def failed(_exc) -> None:
            self.busy = False
        when_done(self.app.core.print_receipt(), printed, failed, name="reprint-receipt")

    def print_documents(self) -> None:
        """打印证照: the documents this application just issued."""
        documents = self.session.application.get("receipt", {}).get("documents", [])
        self.app.show("print_document", documents=[d for d in documents if d.get("print_token")],
                      return_to="result")

    def done(self) -> None:
        next_step(self.app)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
