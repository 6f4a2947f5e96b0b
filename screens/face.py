"""人证核验: the resident looks at the camera, blinks, and the platform decides.

The screen shows the live preview (a mirror image, so moving left moves
left) and one big prompt per ``face.prompt`` code.  The core runs the capture
(``KioskCore.start_face_capture``); on ``face.done`` it checks the JPEG with the
platform (``verify_face``, memory only); a match advances, anything else says so
plainly and offers 重试 or 转人工办理.

转人工 (``hand_off``) is always on the screen, for a resident who cannot pass the check
or does not want it, and becomes the first choice after a failed one: the core prints a
转人工凭条 (a random reference, no personal data: ``kiosk.counter_slip``), the resident
is told whether it came out -- with the reference on the screen when it did not -- and
结束 ends the session.
"""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import StringProperty

from kiosk.i18n import N_
from screens.flow_screen import FlowScreen, next_step
from screens.worker import when_done
from screens.widgets import tr

# face.prompt code -> what the resident should do (devices/face.py order of gates)
PROMPTS = {
    "no_face": N_("请正对屏幕"),
    "multiple_faces": N_("请一人办理，其他人请稍离开"),
    "too_far": N_("请靠近一些"),
    "not_centred": N_("请把脸移到框内"),
    "too_dark": N_("光线太暗，请站到屏幕正前方"),
    "blurry": N_("请保持不动"),
    "blink": N_("请眨眨眼"),
    "turn_head": N_("请缓慢转头"),
    "hold_still": N_("请保持不动"),
}
# why it failed -> (title, advice)
FAILURES = {
    "no_camera": (N_("摄像头暂时无法使用"), N_("请到人工窗口办理，工作人员会为您核验身份。")),
    "liveness_failed": (N_("没有完成眨眼"), N_("请摘下帽子和墨镜，正对屏幕，看到“请眨眨眼”时眨一下眼睛。")),
    "timeout": (N_("没有拍到清晰的人脸"), N_("请摘下帽子和墨镜，正对屏幕，保持不动。")),
    "no_match": (N_("人脸与身份证不一致"), N_("请本人办理。如确为本人，可以重试一次，或到人工窗口核验。")),
    "network": (N_("暂时无法核验身份"), N_("网络暂时不通。可以稍后重试，或到人工窗口办理。")),
}


class FaceScreen(FlowScreen):
    help_text = N_("请摘下帽子和墨镜，正对屏幕站好，按屏幕上的提示眨眨眼。照片只用于本次核验，不会保存在本机。"
                   "不想刷脸或无法通过，可以按“转人工办理”打印凭条，到人工窗口办理。")
    status = StringProperty("capturing")   # capturing | verifying | failed
    failure_title = StringProperty("")
    failure_advice = StringProperty("")
    prompt_code = StringProperty("no_face")
    prompt_msgid = StringProperty(PROMPTS["no_face"])

    def on_prompt_code(self, _screen, code: str) -> None:
        self.prompt_msgid = PROMPTS.get(code, PROMPTS["no_face"])
        if self.is_current() and self.status == "capturing" and code != "no_face":
            # after the one playing (prompts change several times a second); "no_face"
            # is what the screen's entry prompt says already
            self.app.core.speak(f"face.{code}" if code in PROMPTS and code != "blurry" else "face.hold_still",
                                interrupt=False)

    def prepare(self, **_params) -> None:
        self.status, self.prompt_code = "capturing", "no_face"
        self.failure_title = self.failure_advice = ""

    def on_enter(self, *_args):
        self.start_capture()

    def on_leave(self, *_args):
        self.stop_capture()

    def start_capture(self) -> None:
        self.stop_capture()
        core = self.app.core
        self.status, self.prompt_code = "capturing", "no_face"
        self.ids.preview.start(core.camera_preview("camera"))   # the mirror first, then the checks
        if not core.start_face_capture():
            self.fail("no_camera")

    def stop_capture(self) -> None:
        self.app.core.stop_face_capture()
        self.ids.preview.stop()

    def on_bus_event(self, event) -> None:
        if not self.is_current() or self.status != "capturing":
            return
        if event.topic == "face.prompt":
            self.prompt_code = str(event.data.get("code", "no_face"))
        elif event.topic == "face.done" and self.session is not None:
            self.stop_capture()
            self.app.core.speak("face.captured")
            self.verify(event.data["jpeg"])
        elif event.topic == "face.failed":
            self.stop_capture()
            self.fail(str(event.data.get("code", "timeout")))

    def verify(self, face_jpeg: bytes) -> None:
        self.status = "verifying"
        when_done(self.app.core.verify_face(face_jpeg), self.verified,
                  lambda _exc: self.fail("network") if self.status == "verifying" else None,
                  name="identity-verify")

    def verified(self, match: bool) -> None:
        if self.status != "verifying":   # 转人工 was chosen meanwhile: the answer changes nothing
            return
        if not match:
            self.fail("no_match")
            return
        next_step(self.app)

    def fail(self, code: str) -> None:
        if self.status == "handing_off":
            return
        title, advice = FAILURES.get(code, FAILURES["timeout"])
        self.status = "failed"
        self.failure_title, self.failure_advice = tr(title), tr(advice)
        self.app.core.speak("face.failed")

    def hand_off(self) -> None:
        """转人工办理: the capture stops, the core prints the slip, the resident is told."""
        self.stop_capture()
        self.status = "handing_off"
        self.busy_text = tr("正在打印转人工凭条，请稍候…")
        self.busy = True
        when_done(self.app.core.counter_slip(), self.handed_off, lambda _exc: self.handed_off(None),
                  name="counter-slip")

    def handed_off(self, outcome) -> None:
        """The truth about the slip; the only way on is 结束 (the session ends, wiped)."""
        self.busy = False
        if outcome is not None and outcome.printed:
            title = tr("请取走转人工凭条")
            body = tr("凭条已从出纸口打印出来，参考号 {reference}。请拿好凭条和身份证，到本中心的人工服务窗口办理。"
                      ).format(reference=outcome.reference)
        elif outcome is not None:
            title = tr("凭条没有打印出来")
            body = tr("打印机暂时无法使用。请记下参考号 {reference}，带上身份证到本中心的人工服务窗口办理。"
                      ).format(reference=outcome.reference)
        else:
            title = tr("请到人工窗口办理")
            body = tr("请带上身份证到本中心的人工服务窗口办理，工作人员会为您核验身份。")
        from screens.widgets import MessagePanel, icon
        self.app.open_overlay(MessagePanel(
            title=title, body=body, icon_source=icon("printing" if outcome is not None and outcome.printed
                                                     else "unavailable"),
            primary_text=tr("结束"), primary_action=self.app.finish_session))


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
