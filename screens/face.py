"""人证核验: the resident looks at the camera, blinks, and the platform decides.

The screen shows the live preview (a mirror image, so moving left moves
left) and one big prompt per ``face.prompt`` code.  ``face.done`` puts the
JPEG in ``Session.face_image`` (memory only) and the platform's identity
check runs in a worker; a match advances, anything else says so plainly and
offers 重试 or 到人工窗口.
"""
from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import StringProperty

from devices.face import FaceCapture
from kiosk.i18n import N_
from screens.flow_helpers import FlowScreen, next_step, run_in_worker
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
    help_text = N_("请摘下帽子和墨镜，正对屏幕站好，按屏幕上的提示眨眨眼。照片只用于本次核验，不会保存在本机。")
    status = StringProperty("capturing")   # capturing | verifying | failed
    failure_title = StringProperty("")
    failure_advice = StringProperty("")
    prompt_code = StringProperty("no_face")
    prompt_msgid = StringProperty(PROMPTS["no_face"])
    _capture: FaceCapture | None = None

    def on_prompt_code(self, _screen, code: str) -> None:
        self.prompt_msgid = PROMPTS.get(code, PROMPTS["no_face"])

    def prepare(self, **_params) -> None:
        self.status, self.prompt_code = "capturing", "no_face"
        self.failure_title = self.failure_advice = ""

    def on_enter(self, *_args):
        self.start_capture()

    def on_leave(self, *_args):
        self.stop_capture()

    def start_capture(self) -> None:
        self.stop_capture()
        camera = self.device("camera")
        self.status, self.prompt_code = "capturing", "no_face"
        if camera is None:
            self.fail("no_camera")
            return
        self.ids.preview.start(camera)
        self._capture = FaceCapture(camera, challenge="blink", timeout_s=20.0)
        self._capture.start()

    def stop_capture(self) -> None:
        if self._capture is not None:
            self._capture.stop()
            self._capture = None
        self.ids.preview.stop()

    def on_bus_event(self, event) -> None:
        if not self.is_current() or self.status != "capturing":
            return
        if event.topic == "face.prompt":
            self.prompt_code = str(event.data.get("code", "no_face"))
        elif event.topic == "face.done" and self.session is not None:
            self.stop_capture()
            self.session.face_image = event.data["jpeg"]
            self.verify()
        elif event.topic == "face.failed":
            self.stop_capture()
            self.fail(str(event.data.get("code", "timeout")))

    def verify(self) -> None:
        session, platform = self.session, self.app.core.platform
        card = session.card
        self.status = "verifying"

        def check() -> dict:
            return platform.verify_identity(card.to_public_dict(), card.photo_wlt or None,
                                            session.face_image)
        run_in_worker(check, self.verified, lambda _exc: self.fail("network"), name="identity-verify")

    def verified(self, answer: dict) -> None:
        if not answer.get("match"):
            self.fail("no_match")
            return
        self.session.identity_verified = True
        self.session.presence_grant = answer.get("presence_grant")
        next_step(self.app)

    def fail(self, code: str) -> None:
        title, advice = FAILURES.get(code, FAILURES["timeout"])
        self.status = "failed"
        self.failure_title, self.failure_advice = tr(title), tr(advice)

    def to_counter(self) -> None:
        """到人工窗口: nothing is kept on the kiosk."""
        self.app.finish_session()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
