"""确认提交: one summary, then the application is saved, submitted and receipted.

确认提交 runs :func:`kiosk.workflow.submit_application` in a worker (it puts
the application in the durable outbox first and waits up to 3 s for the
platform), then prints the receipt in a worker.  The application is never
lost to a printer: if the receipt cannot be printed (paper out, cover open,
offline …) the result screen says plainly that the application IS saved and
shows its number large, to photograph or write down, with a hint to ask
staff.  A kiosk whose disk is too full to store it safely says so and sends
the resident to a counter (``workflow.MESSAGES["not_saved"]``).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from kivy.lang import Builder
from kivy.properties import StringProperty

from devices.printers.receipt import ReceiptData
from kiosk import workflow
from kiosk.i18n import N_
from screens.delivery import METHOD_WORDS, pickup_centre_name
from screens.flow_helpers import FlowScreen, mask_address, masked_card, next_step, run_in_worker
from screens.widgets import MessagePanel, icon, tr


def receipt_data(app, session, service, result: workflow.SubmitResult) -> ReceiptData:
    """What the receipt printer prints for this application (masked by the printer)."""
    card = session.card
    number = result.application_no or result.reference
    language = session.language if session.language in ("zh_CN", "zh_TW", "en") else "zh_CN"
    return ReceiptData(
        centre_name=app.kiosk_config.centre_name_for(language),
        service_name=service.name(language), application_no=number,
        resident_name=card.name if card is not None else "", id_number=card.id_number if card is not None else "",
        submitted_at=dt.datetime.now(), status=result.status, kind=service.kind,
        promised_days=result.receipt.get("promised_days") if service.kind == "承诺件" else None,
        delivery={"method": session.delivery.get("method", "onsite_print"),
                  "centre": pickup_centre_name(service, session.delivery.get("centre"), language) or None,
                  "address": session.delivery.get("address")},
        lookup_url=number, language=language)


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
        session, service, core = self.session, self.service, self.app.core
        if session is None or service is None or self.busy:
            return
        self.busy_text, self.busy = tr("正在提交，请稍候…"), True
        run_in_worker(lambda: workflow.submit_application(core, session, service), self._submitted,
                      self._not_saved, name="submit-application")

    def _submitted(self, result: workflow.SubmitResult) -> None:
        session = self.session
        session.application["submit_result"] = result
        if result.status == workflow.REFUSED:   # nothing to receipt: the counter sorts it out
            session.application["receipt"] = dict(result.receipt, printed=False, print_error="refused")
            self.busy = False
            next_step(self.app)
            return
        self.busy_text = tr("正在打印凭条…")
        data = receipt_data(self.app, session, self.service, result)
        printer = self.device("receipt_printer")

        def print_receipt():
            if printer is None:
                raise RuntimeError("no receipt printer configured")
            return printer.print_receipt(data)
        run_in_worker(print_receipt, lambda _r: self._receipt_done(None), self._receipt_failed,
                      name="print-receipt")

    def _receipt_failed(self, exc: BaseException) -> None:
        self._receipt_done(getattr(exc, "code", None) or "printer_error")

    def _receipt_done(self, error: str | None) -> None:
        """The application is saved either way; the result screen tells the resident."""
        self.session.application["receipt_printed"] = error is None
        self.session.application["receipt_error"] = error
        self.busy = False
        next_step(self.app)

    def _not_saved(self, exc: BaseException) -> None:
        self.busy = False
        message = workflow.MESSAGES["not_saved"]
        self.app.open_overlay(MessagePanel(
            title=tr("暂时无法提交"), body=message.get(self.app.language, message["zh_CN"]),
            icon_source=icon("unavailable"), primary_text=tr("结束办理"),
            primary_action=self.app.finish_session, secondary_text=tr("返回"),
            secondary_action=self.app.close_overlay))


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
