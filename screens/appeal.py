"""诉求与建议: a category, one or more preset phrases, an optional phone number.

Typing a complaint on a kiosk is hard, so the resident picks what fits from
short preset phrases per category; a callback number (digit pad) lets the
12345 team follow up in person.  ``KioskCore.file_appeal`` submits it; the
confirmation shows the platform's appeal number, or the local
reference when it was saved offline.
"""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import ListProperty, StringProperty

from kiosk import transaction as tx
from kiosk import workflow
from kiosk.i18n import N_
from screens.flow_screen import FlowScreen
from screens.flow_widgets import Choice
from screens.widgets import MessagePanel, icon, tr
from screens.worker import when_done

CATEGORIES = (("consultation", N_("咨询")), ("complaint", N_("投诉")), ("suggestion", N_("建议")),
              ("help", N_("求助")))
PHRASES = {
    "consultation": (N_("想了解某项业务怎么办理"), N_("想知道办件进度"), N_("想了解需要带哪些材料")),
    "complaint": (N_("办事等候时间太长"), N_("工作人员服务态度不好"), N_("自助机操作太复杂"),
                  N_("要求提交的材料太多")),
    "suggestion": (N_("希望增加可办理的业务"), N_("希望延长服务时间"), N_("希望字再大一些")),
    "help": (N_("不会使用自助机"), N_("证件丢失需要帮助"), N_("需要无障碍服务")),
}


class AppealScreen(FlowScreen):
    help_text = N_("请先选择类别，再点选符合您情况的内容。留下手机号码，工作人员会联系您。")
    category = StringProperty("")
    phrases = ListProperty([])
    reference = StringProperty("")
    state = StringProperty("input")   # input | sent | failed (told in a message panel)

    def prepare(self, **_params) -> None:
        self.category, self.phrases, self.reference, self.state = "", [], "", "input"
        self.ids.phone.text = ""
        self._build()

    def forget(self) -> None:
        self.prepare()
        self.ids.phone_error.text = ""

    def relabel(self) -> None:
        self._build()

    def _build(self) -> None:
        box = self.ids.categories
        box.clear_widgets()
        for key, words in CATEGORIES:
            box.add_widget(Choice(text=tr(words), value=key, selected=key == self.category,
                                  on_release=lambda w: self.choose_category(w.value)))
        box = self.ids.phrases
        box.clear_widgets()
        for phrase in PHRASES.get(self.category, ()):
            box.add_widget(Choice(text=tr(phrase), value=phrase, selected=phrase in self.phrases,
                                  on_release=lambda w: self.toggle_phrase(w.value)))

    def choose_category(self, key: str) -> None:
        if key != self.category:
            self.category, self.phrases = key, []
            self._build()

    def toggle_phrase(self, phrase: str) -> None:
        self.phrases = [p for p in self.phrases if p != phrase] if phrase in self.phrases else self.phrases + [phrase]
        self._build()

    def phone_problem(self) -> str:
        problem = tx.validate_field({"type": "phone"}, self.ids.phone.text)
        return tx.problem_text(problem, self.app.language) if problem else ""

    def submit(self) -> None:
        if not self.category or not self.phrases or self.busy:
            return
        problem = self.phone_problem()
        self.ids.phone_error.text = problem
        if problem:
            return
        text = "；".join(self.phrases)   # the platform gets the Chinese wording whatever the UI language
        phone = self.ids.phone.text.strip() or None
        self.busy_text, self.busy = tr("正在提交，请稍候…"), True
        when_done(self.app.core.file_appeal(self.category, text, phone), self._sent, self._failed,
                  name="submit-appeal")

    def _sent(self, result: workflow.SubmitResult) -> None:
        self.busy = False
        self.reference = result.response.get("appeal_no") or result.reference
        self.state = "sent"
        self._tell(tr("您的诉求已收到，感谢您的反馈！"), tr("受理编号") + "\n" + self.reference)

    def _failed(self, _exc: BaseException) -> None:
        self.busy, self.state = False, "failed"
        self._tell(tr("暂时无法提交"), tr("暂时无法提交，请拨打政务服务便民热线 12345。"))

    def _tell(self, title: str, body: str) -> None:
        self.app.open_overlay(MessagePanel(title=title, body=body, icon_source=icon("appeal"),
                                           primary_text=tr("结束"), primary_action=self.finish))

    def finish(self) -> None:
        self.app.finish_session()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
