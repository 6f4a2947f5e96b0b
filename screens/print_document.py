"""证照打印: documents ready for the resident, printed once on the licence printer.

The list comes from the core (``KioskCore.printable_documents``): by the ID
card read for this session, by a pickup code scanned from a receipt's QR
(``qr.scanned``, 通办通取: any kiosk), or straight from the application just
submitted (the result screen's 打印证照).  ``KioskCore.print_licence`` fetches,
maps, prints and reports it (``kiosk.licences``); the printer's journal makes a
second press -- or a crash and restart -- print at most one copy per token.
"""
from __future__ import annotations

import re
from pathlib import Path

from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.i18n import N_
from kiosk.licences import printable
from screens.flow_screen import FlowScreen
from screens.widgets import KButton, tr
from screens.worker import when_done

PICKUP_CODE = re.compile(r"(?<!\d)(\d{8})(?!\d)")
# PrinterError code -> what the resident is told (the technician's cause is logged)
PRINT_FAILURES = {
    "paper_out": N_("打印机缺纸。请找现场工作人员加纸后再打印，证照不会重复打印。"),
    "cover_open": N_("打印机盖没有关好。请找现场工作人员处理后再打印。"),
    "unfinished_other_token": N_("这份证照上次没有打印完，请找现场工作人员核对。"),
    "bad_document": N_("这份证照暂时无法在本机打印，请到人工窗口领取。"),
}
PRINT_FAILED = N_("打印没有成功。请找现场工作人员，或到人工窗口领取。")


class PrintDocumentScreen(FlowScreen):
    help_text = N_("凭身份证，或扫描回执凭条上的二维码，可以打印已办结的证照。每份证照只打印一次。")
    state = StringProperty("idle")     # idle | loading | list | empty | printing | printed | failed
    message = StringProperty("")

    def prepare(self, documents: list | None = None, return_to: str | None = None, **_params) -> None:
        self.return_to = return_to
        self.documents: list[dict] = []
        self.message = ""
        if documents:
            self._show(documents)
        elif self.session is not None and self.session.card is not None:
            self.lookup()
        else:
            self.state = "idle"
            self._show_list()

    def on_bus_event(self, event) -> None:
        if not self.is_current() or event.topic != "qr.scanned" or self.state in ("loading", "printing"):
            return
        match = PICKUP_CODE.search(str(event.data.get("text", "")))
        if match:
            self.lookup(pickup_code=match.group(1))

    def lookup(self, pickup_code: str | None = None) -> None:
        """By the session's card, or by a receipt's pickup code."""
        self.state, self.message = "loading", tr("正在查询可打印的证照…")
        self._show_list()
        when_done(self.app.core.printable_documents(pickup_code=pickup_code), self._show,
                  lambda _exc: self._fail(tr("暂时查不到证照信息，请稍后再试，或到人工窗口领取。")),
                  name="query-documents")

    def _show(self, documents: list) -> None:
        self.documents = printable(documents)
        self.state = "list" if self.documents else "empty"
        self.message = tr("请选择要打印的证照") if self.documents else tr("没有待打印的证照。已打印过的证照不能在本机重复打印。")
        self._show_list()

    def forget(self) -> None:
        self.documents, self.message, self.state = [], "", "idle"
        self.ids.documents.clear_widgets()

    def relabel(self) -> None:
        self._show_list()

    def _show_list(self) -> None:
        box = self.ids.documents
        box.clear_widgets()
        for doc in self.documents:
            box.add_widget(KButton(text=tr("打印：{title}").format(title=doc.get("title", "")),
                                   disabled=self.state == "printing",
                                   on_release=lambda _w, d=doc: self.print_one(d)))

    def print_one(self, summary: dict) -> None:
        self.state, self.message = "printing", tr("正在打印，请稍候…")
        self.busy_text, self.busy = self.message, True

        def done(result) -> None:
            self.busy = False
            self.documents = [d for d in self.documents if d is not summary]
            self.state = "printed"
            self.message = tr("这份证照已经打印过，请在出纸口查看。") if result.already_printed else tr(
                "打印完成，请取走证照。")
            if not result.already_printed:
                self.app.core.speak("print.done")
            self._show_list()
        when_done(self.app.core.print_licence(summary), done, self._print_failed, name="print-document")

    def _print_failed(self, exc: BaseException) -> None:
        self.busy = False
        self.app.core.speak("print.failed")
        self._fail(tr(PRINT_FAILURES.get(getattr(exc, "code", ""), PRINT_FAILED)))

    def _fail(self, message: str) -> None:
        self.state, self.message = "failed", message
        self._show_list()

    def leave(self) -> None:
        if self.return_to:
            self.app.show(self.return_to, remember=False)
        else:
            self.app.finish_session()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
