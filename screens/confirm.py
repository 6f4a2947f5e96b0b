"""确认提交: one summary, then the application is saved, submitted and receipted.

确认提交 asks the core to submit (``KioskCore.submit_application``: the
application goes into the durable outbox first, then the core waits up to 3 s
for the platform), then to print the receipt (``print_receipt``).  The application is never
lost to a printer: if the receipt cannot be printed (paper out, cover open,
offline …) the result screen says plainly that the application IS saved and
shows its number large, to photograph or write down, with a hint to ask
staff.  A kiosk whose disk is too full to store it safely says so and sends
the resident to a counter (``workflow.outcome_text(NOT_SAVED)``).
"""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk import workflow
from kiosk.i18n import N_
from kiosk.privacy import mask_address
from kiosk.receipts import pickup_centre_name
from screens.delivery import METHOD_WORDS
from screens.flow_screen import FlowScreen, masked_card, next_step
from screens.widgets import MessagePanel, icon, tr
from screens.worker import when_done


class ConfirmScreen(FlowScreen):
    help_text = N_("请核对以下信息。确认无误请按“确认提交”；需要修改请按“返回”。")
    summary = StringProperty("")

    def prepare(self, **_params) -> None:
        session, service = self.session, self.service
        if session is None or service is None:
            return
        lang = self.app.language
        name, id_number = masked_card(self.app)
        pages = sum(len(p) for p in session.materials.values())
        method = session.delivery.get("method") or (service.delivery[0] if service.delivery else "")
        delivery = tr(METHOD_WORDS[method][0]) if method in METHOD_WORDS else ""
        # the address is only a reminder here (checked whole on 领取方式): area only
        where = (mask_address(session.delivery.get("address"))
                 or pickup_centre_name(service, session.delivery.get("centre"), lang))
        rows = [(tr("办理事项"), service.name(lang)), (tr("申请人"), name), (tr("证件号码"), id_number),
                (tr("已扫描材料"), tr("{materials} 份，共 {pages} 页").format(materials=len(session.materials), pages=pages)),
                (tr("领取方式"), f"{delivery}  {where}".strip()),
                (tr("签名"), tr("已签名") if session.signature else tr("未签名"))]
        self.summary = "\n".join(f"[b]{label}[/b]    {value}" for label, value in rows if value)

    def forget(self) -> None:
        self.summary = ""

    def relabel(self) -> None:
        self.prepare()

    def submit(self) -> None:
        if self.session is None or self.service is None or self.busy:
            return
        self.busy_text, self.busy = tr("正在提交，请稍候…"), True
        when_done(self.app.core.submit_application(), self._submitted, self._not_saved,
                  name="submit-application")

    def _submitted(self, result: workflow.SubmitResult) -> None:
        if result.status == workflow.REFUSED:   # nothing to receipt: the counter sorts it out
            self.session.application["receipt"] = dict(result.receipt, printed=False, print_error="refused")
            self.busy = False
            next_step(self.app)
            return
        self.busy_text = tr("正在打印凭条…")
        when_done(self.app.core.print_receipt(), self._receipt_done, self._receipt_done, name="print-receipt")

    def _receipt_done(self, _outcome) -> None:
        """The application is saved either way; the result screen tells the resident."""
        self.busy = False
        next_step(self.app)

    def _not_saved(self, exc: BaseException) -> None:
        self.busy = False
        self.app.open_overlay(MessagePanel(
            title=tr("暂时无法提交"), body=workflow.outcome_text(workflow.NOT_SAVED, self.app.language),
            icon_source=icon("unavailable"), primary_text=tr("结束办理"),
            primary_action=self.app.finish_session, secondary_text=tr("返回"),
            secondary_action=self.app.close_overlay))


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
