"""我的办件: the applications of the resident present, after identification (card + 人证核验).

The list comes from the core (``KioskCore.resident_applications``, kiosk.my_applications): the
platform's applications of this resident at any kiosk -- number, service, status, promised date,
documents ready to print -- and the ones this kiosk still holds in its queue.  A RecycleView over
``data`` (the list can be long); each row offers one tap to 详情 (the status timeline), when a
document is ready 打印证照 (the print_document screen with that application's documents), and when
a material is still owed (边办边补: "待补交：居住证（截止 2026-12-15）") 补交 -- the document camera
for exactly the owed materials, then the supplement screen.

Offline the screen says plainly what it cannot show (progress, applications made elsewhere) and
still lists what this kiosk queued for the resident, with the receipt's reference number.
"""
from __future__ import annotations

import datetime as dt
import weakref
from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.recycleview.views import RecycleDataViewBehavior

from kiosk.core import PresenceRequired
from kiosk.i18n import N_
from kiosk.supplements import overdue, owed_now
from screens.flow_screen import FlowScreen
from screens.query import STATUS_WORDS
from screens.theme import theme
from screens.widgets import local, tr
from screens.worker import when_done

STEP_WORDS = {
    "received": N_("已受理"),
    "approved": N_("已办结"),
    "rejected": N_("未通过"),
    "printed": N_("证照已打印"),
}
# labels used inside composed lines: marked here so the catalogues collect them
NUMBER_LABEL, RECEIPT_LABEL, SERVICE_LABEL, STATUS_LABEL = N_("办件编号"), N_("凭条编号"), N_("办理事项"), N_("当前状态")
QUEUED_WORDS = {
    "queued": N_("本机已保存，联网后自动提交"),
    "refused": N_("提交未成功，请带上凭条到窗口咨询"),
}


def local_time(iso: str, with_time: bool = True) -> str:
    """The platform's UTC time as this kiosk's local date (and time)."""
    try:
        when = dt.datetime.fromisoformat(iso).astimezone()
    except (TypeError, ValueError):
        return iso or ""
    return when.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def row_estimate(owed_lines: int, queued: bool) -> float:
    """A row's height before its words are measured (unwrapped lines): close enough that the first
    frame does not overlap rows; ApplicationRow.fit then makes it exact."""
    line = 1.45   # the line box of the Noto faces, per font size
    height = theme.gap * 1.5 + theme.fs_large * line + theme.fs_body * line * (1 + owed_lines) \
        + theme.gap * 0.4 * (1 + (1 if owed_lines else 0))
    if not queued:
        height += theme.gap * 0.4 + max(theme.button_h, theme.touch_min)
    return max(theme.row_h, height)


def printable(application: dict) -> list[dict]:
    return [d for d in application.get("documents", []) if d.get("print_token")]


class ApplicationRow(RecycleDataViewBehavior, BoxLayout):
    """One application: service, number, status in plain words; 详情 and 打印证照 buttons."""
    application_no = StringProperty("")
    title = StringProperty("")
    line = StringProperty("")
    owed = StringProperty("")          # 边办边补: 待补交：居住证（截止 2026-12-15）
    queued = BooleanProperty(False)
    can_print = BooleanProperty(False)
    can_supplement = BooleanProperty(False)

    def __init__(self, **kwargs):
        self._rv, self._index = None, -1
        self._fit_trigger = Clock.create_trigger(self.fit, 0)
        super().__init__(**kwargs)

    def on_kv_post(self, _base):
        self.ids.content.bind(minimum_height=self._fit_trigger)

    def refresh_view_attrs(self, rv, index, data):
        self._rv, self._index = weakref.ref(rv), index  # weakly: Kivy caches idle views
        self._fit_trigger()
        return super().refresh_view_attrs(rv, index, data)

    def fit(self, *_args) -> None:
        """The row as tall as its wrapped words and buttons."""
        rv, index = self._rv() if self._rv is not None else None, self._index
        if rv is None or not 0 <= index < len(rv.data):
            return
        # lay the row out from its current data first: a recycled view may still have the widths
        # (and so the wrapping) of the application it showed before
        labels = (self.ids.title, self.ids.line, self.ids.owed)
        for label in labels:
            label.texture_update()
        self.do_layout()
        self.ids.content.do_layout()
        for label in labels:
            label.texture_update()
        self.ids.content.do_layout()
        wanted = self.ids.content.minimum_height + self.padding[1] + self.padding[3]
        if abs(rv.data[index].get("height", 0) - wanted) > 1:
            rv.data[index] = dict(rv.data[index], height=wanted)

    def _screen(self):
        screen = self.parent
        while screen is not None and not isinstance(screen, MyApplicationsScreen):
            screen = screen.parent
        return screen

    def open_detail(self) -> None:
        screen = self._screen()
        if screen is not None:
            screen.show_detail(self.application_no)

    def print_documents(self) -> None:
        screen = self._screen()
        if screen is not None:
            screen.print_documents(self.application_no)

    def supplement(self) -> None:
        screen = self._screen()
        if screen is not None:
            screen.supplement(self.application_no)


class MyApplicationsScreen(FlowScreen):
    help_text = N_("这里列出您本人办理的业务和进度。点“详情”看办理经过，证照办好后可点“打印证照”。")
    state = StringProperty("loading")   # loading | list | empty | offline | detail | failed
    message = StringProperty("")
    detail = StringProperty("")
    detail_printable = BooleanProperty(False)
    detail_supplement = BooleanProperty(False)

    def on_kv_post(self, base):
        super().on_kv_post(base)
        theme.bind(row_h=self._relayout)

    def _relayout(self, *_args) -> None:
        if self.is_current():
            self.relabel()

    def prepare(self, answer=None, detail: str | None = None, **_params) -> None:
        """``answer``: show this (a MyApplications) instead of asking the core (the tour)."""
        self.answer = None
        self.selected: str | None = None
        self.state, self.message, self.detail = "loading", tr("正在查询您的办件…"), ""
        self.ids.applications.data = []
        if answer is not None:
            self._show(answer)
            if detail:
                self.show_detail(detail)
            return
        when_done(self.app.core.resident_applications(), self._show, self._failed, name="my-applications")

    def forget(self) -> None:
        self.answer, self.selected = None, None
        self.state, self.message, self.detail = "loading", "", ""
        self.ids.applications.data = []

    def relabel(self) -> None:
        if self.answer is not None:
            self._show(self.answer, keep_detail=True)

    def _show(self, answer, keep_detail: bool = False) -> None:
        self.answer = answer
        rows = [self._row(a) for a in answer.applications] + [self._queued_row(q) for q in answer.queued]
        self.ids.applications.data = rows
        self.ids.applications.refresh_from_data()
        if not answer.online:
            self.state = "offline"
            self.message = tr("暂时连不上政务服务平台，无法显示办理进度和您在其他地方办理的业务。")
            if answer.queued:
                self.message += "\n" + tr("下面是您在本机办理、尚未提交的申请，联网后会自动提交。")
        elif rows:
            self.state, self.message = "list", tr("您共有 {count} 件办件").format(count=len(rows))
        else:
            self.state, self.message = "empty", tr("没有查到您的办件。")
        if keep_detail and self.selected:
            self.show_detail(self.selected)

    def _service_name(self, application: dict) -> str:
        """The service's name in the resident's language (the menu's), else the platform's."""
        try:
            return self.app.menu.service(application.get("service_id", "")).name(self.app.language)
        except (AttributeError, KeyError):
            return application.get("service_name", "")

    def _row(self, application: dict) -> dict:
        status = application.get("status", "")
        words = [f"{tr(NUMBER_LABEL)}：{application.get('application_no', '')}", tr(STATUS_WORDS.get(status, "已受理，正在办理"))]
        if status == "accepted" and application.get("expected_completion"):
            words.append(tr("预计 {date} 前办结").format(date=application["expected_completion"]))
        if printable(application):
            words.append(tr("证照已可打印"))
        return {"application_no": application.get("application_no", ""), "title": self._service_name(application),
                "line": "  ·  ".join(words), "owed": "\n".join(self._owed_lines(application)), "queued": False,
                "can_print": bool(printable(application)), "can_supplement": bool(owed_now(application)),
                "height": row_estimate(len(self._owed_lines(application)), queued=False)}

    def _material_name(self, application: dict, owed: dict) -> str:
        """An owed material's name in the resident's language (the menu's), else the platform's."""
        try:
            service = self.app.menu.service(application.get("service_id", ""))
        except (AttributeError, KeyError):
            return owed.get("name", "")
        for material in service.guide.get("materials", []):
            if material.get("id") == owed.get("material_id"):
                return local(material.get("names"), self.app.language)
        return owed.get("name", "")

    def _owed_lines(self, application: dict) -> list[str]:
        """边办边补 in plain words: what is still owed and by when, what was rejected and why,
        what is past its deadline (a counter), what waits for review."""
        lines = []
        late = {o.get("material_id") for o in overdue(application)}
        for owed in application.get("owed", []):
            name, deadline = self._material_name(application, owed), owed.get("deadline", "")
            status = owed.get("status")
            if owed.get("material_id") in late:
                lines.append(tr("{name}：已过补交期限（截止 {date}），请到人工窗口办理").format(name=name, date=deadline))
            elif status == "awaiting_supplement":
                lines.append(tr("待补交：{name}（截止 {date}）").format(name=name, date=deadline))
            elif status == "rejected":
                lines.append(tr("{name} 未通过：{reason}。请在 {date} 前重新补交").format(
                    name=name, reason=owed.get("reason") or "", date=deadline))
            elif status == "received":
                lines.append(tr("{name}：已补交，等待审核").format(name=name))
        return lines

    def _queued_row(self, queued: dict) -> dict:
        line = f"{tr(RECEIPT_LABEL)}：{queued['reference']}  ·  {tr(QUEUED_WORDS.get(queued['state'], QUEUED_WORDS['queued']))}"
        return {"application_no": "", "title": self._service_name(queued), "line": line, "owed": "",
                "queued": True, "can_print": False, "can_supplement": False,
                "height": row_estimate(0, queued=True)}

    def _application(self, number: str) -> dict | None:
        if self.answer is None:
            return None
        return next((a for a in self.answer.applications if a.get("application_no") == number), None)

    def show_detail(self, number: str) -> None:
        application = self._application(number)
        if application is None:
            return
        self.selected = number
        lines = [f"{tr(SERVICE_LABEL)}：{self._service_name(application)}",
                 f"{tr(NUMBER_LABEL)}：{number}",
                 f"{tr(STATUS_LABEL)}：{tr(STATUS_WORDS.get(application.get('status', ''), '已受理，正在办理'))}"]
        if application.get("status") == "accepted" and application.get("expected_completion"):
            lines.append(tr("预计 {date} 前办结").format(date=application["expected_completion"]))
        lines += self._owed_lines(application)
        lines.append(tr("办理经过："))
        for step in application.get("timeline", []):
            lines.append(f"  {local_time(step.get('at', ''))}  {tr(STEP_WORDS.get(step.get('step', ''), '已受理'))}")
        self.detail = "\n".join(lines)
        self.detail_printable = bool(printable(application))
        self.detail_supplement = bool(owed_now(application))
        self.state = "detail"

    def close_detail(self) -> None:
        self.selected = None
        if self.answer is not None:
            self._show(self.answer)

    def print_documents(self, number: str | None = None) -> None:
        """打印证照: the existing print_document flow, with this application's documents."""
        application = self._application(number or self.selected or "")
        if application is None or not printable(application):
            return
        self.app.show("print_document", documents=printable(application), return_to="my_applications")

    def supplement(self, number: str | None = None) -> None:
        """补交: the document camera for exactly the owed materials (materials screen), then the
        supplement screen hands them in.  Past its deadline or no longer needed: plain words."""
        application = self._application(number or self.selected or "")
        if application is None:
            return
        step = self.app.core.start_supplement(application)
        if step is None:
            self.state = "failed"
            self.message = tr("这件办件现在不能在本机补交材料：可能已超过补交期限或已不需要补交。请到人工窗口办理。")
            return
        self.app.show_step(step)

    def _failed(self, exc: BaseException) -> None:
        self.answer = None
        if isinstance(exc, PresenceRequired):
            self.state, self.message = "failed", tr("请到人工窗口办理，工作人员会为您核验身份。")
        else:
            self.state, self.message = "failed", tr("暂时无法查询，请稍后再试，或拨打 12345 咨询。")

    def leave(self) -> None:
        self.app.finish_session()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
