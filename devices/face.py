"""Face capture for 人证核验: quality gates, a liveness challenge, the best frame.

The kiosk does not decide whether the face matches the ID card -- it hands
the best face image (JPEG bytes) to the platform's verification endpoint.
What this module does:

1. Detect faces with the Haar cascades shipped in opencv-python 4.x, on a
   640 px grey copy of the frame.
2. Quality gates, checked in this order so the resident hears the most
   useful instruction first: exactly one face (``no_face``,
   ``multiple_faces``), big enough (``too_far``), centred (``not_centred``),
   lit (``too_dark``), sharp (``blurry``).
3. An active liveness challenge: ``blink`` (eye cascade finds eyes, then a
   frame with the face still there and no eyes, then eyes again) or
   ``turn_head`` (the frontal face gives way to a profile, then comes back).
4. ``hold_still`` for a few good frames, then the best frame (sharpest,
   largest, most centred, eyes open) is cropped with margin and encoded.

What the challenge stops and does not stop is in docs/vision.md: it defeats
a printed photo or a still image on a phone held up to the camera, not a
replayed video, a mask or a deepfake.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from devices.camera import FrameWorker


ANALYSIS_WIDTH = 640
MIN_FACE_FRACTION = 0.18     # face box width / frame width; smaller = too far
MAX_CENTRE_OFFSET = (0.15, 0.20)   # fraction of frame width / height
MIN_BRIGHTNESS = 70          # mean grey level of the face box
MIN_SHARPNESS = 40.0         # variance of the Laplacian on a 128 px face crop
SCALE_STEP = 1.15            # cascade pyramid step: 1.1 costs ~35% more time for no gain at kiosk distance


def _cascade(name: str) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
    if cascade.empty():
        raise RuntimeError(f"OpenCV cascade {name} missing (opencv-python 5.x no longer ships them)")
    return cascade


@dataclass
class Observation:
    """What one frame shows, in analysis-image pixels."""
    size: tuple[int, int]                        # analysis image (w, h)
    faces: list[tuple[int, int, int, int]]
    code: str | None = None                      # first failed gate; None = good frame
    eyes: int = 0                                # eyes found in the one face
    profile: bool = False                        # a turned head seen (only looked for when asked)
    sharpness: float = 0.0
    brightness: float = 0.0

    @property
    def good(self) -> bool:
        return self.code is None

    def score(self) -> float:
        """0..1: sharper, larger, more centred is better."""
        if not self.faces:
            return 0.0
        x, y, w, h = self.faces[0]
        fw, fh = self.size
        sharp = min(1.0, self.sharpness / (4 * MIN_SHARPNESS))
        size = min(1.0, w / fw / 0.35)
        off = max(abs(x + w / 2 - fw / 2) / fw / MAX_CENTRE_OFFSET[0],
                  abs(y + h / 2 - fh / 2) / fh / MAX_CENTRE_OFFSET[1])
        return round(0.5 * sharp + 0.25 * size + 0.25 * max(0.0, 1.0 - off), 3)


class FaceAnalyzer:
    """Runs the cascades and the quality gates on one frame."""

    def __init__(self):
        self.frontal = _cascade("haarcascade_frontalface_default.xml")
        self.eye = _cascade("haarcascade_eye_tree_eyeglasses.xml")
        self.profile = _cascade("haarcascade_profileface.xml")

    def grey(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        scale = min(1.0, ANALYSIS_WIDTH / gray.shape[1])
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return gray, scale

    def analyse(self, frame: np.ndarray, look_for_profile: bool = False) -> tuple[Observation, float]:
        """(observation, scale from frame to analysis pixels)."""
        gray, scale = self.grey(frame)
        h, w = gray.shape
        equalised = cv2.equalizeHist(gray)
        min_side = int(w * MIN_FACE_FRACTION * 0.6)   # find small faces too, to say "come closer"
        faces = [tuple(int(v) for v in f) for f in
                 self.frontal.detectMultiScale(equalised, SCALE_STEP, 5, minSize=(min_side, min_side))]
        obs = Observation((w, h), faces)
        if not faces:
            obs.code = "no_face"
            if look_for_profile:
                obs.profile = self._profile_seen(equalised, min_side)
            return obs, scale
        if len(faces) > 1:
            obs.code = "multiple_faces"
            return obs, scale
        x, y, fw, fh = faces[0]
        roi = gray[y:y + fh, x:x + fw]
        obs.brightness = float(roi.mean())
        obs.sharpness = float(cv2.Laplacian(cv2.resize(roi, (128, 128), interpolation=cv2.INTER_AREA),
                                            cv2.CV_64F).var())
        upper = equalised[y:y + fh * 3 // 5, x:x + fw]
        obs.eyes = len(self.eye.detectMultiScale(upper, 1.1, 4, minSize=(fw // 8, fw // 8)))
        if fw < MIN_FACE_FRACTION * w:
            obs.code = "too_far"
        elif abs(x + fw / 2 - w / 2) > MAX_CENTRE_OFFSET[0] * w or abs(y + fh / 2 - h / 2) > MAX_CENTRE_OFFSET[1] * h:
            obs.code = "not_centred"
        elif obs.brightness < MIN_BRIGHTNESS:
            obs.code = "too_dark"
        elif obs.sharpness < MIN_SHARPNESS:
            obs.code = "blurry"
        return obs, scale

    def _profile_seen(self, equalised: np.ndarray, min_side: int) -> bool:
        """The profile cascade only knows one side: look at the mirror image too."""
        for image in (equalised, cv2.flip(equalised, 1)):
            if len(self.profile.detectMultiScale(image, 1.1, 5, minSize=(min_side, min_side))):
                return True
        return False


@dataclass
class Liveness:
    """The challenge state machine, fed one observation per frame.

    ``step`` returns the prompt code to show.  ``passed`` turns true once the
    challenge was met; ``eligible`` says whether a frame may be the final
    picture (eyes open, frontal, all gates passed).
    """
    challenge: str = "blink"                     # "blink" | "turn_head"
    ready_frames: int = 2                        # good frames before the challenge starts
    max_closed_s: float = 2.0                    # a longer "blink" is a covered eye, not a blink
    max_jump: float = 0.5                        # face centre moves < half a face width during it
    phase: str = "settle"                        # settle -> challenge -> away -> passed
    passed: bool = False
    _good_run: int = 0
    _away_since: float = 0.0
    _anchor: tuple[float, float, float] | None = field(default=None, repr=False)

    def step(self, obs: Observation, now: float) -> str:
        if self.phase == "away":
            return self._while_away(obs, now)
        if not obs.good:
            self._good_run = 0
            if self.phase == "challenge" and self.challenge == "turn_head" and obs.code == "no_face":
                return self.challenge        # mid-turn: keep asking, not "no face"
            return obs.code or "no_face"
        eyes_open = obs.eyes > 0 or self.challenge == "turn_head"
        if self.phase == "passed":
            return "hold_still"
        if self.phase == "settle":
            self._good_run = self._good_run + 1 if eyes_open else 0
            if self._good_run >= self.ready_frames:
                self.phase = "challenge"
            return self.challenge if self.phase == "challenge" else "hold_still"
        # phase == "challenge": wait for the eyes to close / the head to turn
        if self.challenge == "blink" and obs.eyes == 0:
            self._start_away(obs, now)
        else:
            self._anchor = _centre(obs)
        return self.challenge

    def _start_away(self, obs: Observation, now: float) -> None:
        self.phase, self._away_since = "away", now

    def _while_away(self, obs: Observation, now: float) -> str:
        if now - self._away_since > self.max_closed_s:
            self.phase = "challenge"            # eyes shut / face gone too long: start over
            return self.challenge
        if self.challenge == "blink":
            if not obs.faces or len(obs.faces) > 1:
                self.phase = "challenge"        # the face left: a swap, not a blink
                return self.challenge
            if obs.eyes > 0 and obs.good and self._same_place(obs):
                self.phase, self.passed = "passed", True
                return "hold_still"
            return self.challenge
        if obs.good and self._same_place(obs):
            self.phase, self.passed = "passed", True
            return "hold_still"
        return self.challenge

    def observe_turn(self, obs: Observation, now: float) -> None:
        """turn_head: a profile with no frontal face while challenged = turned away."""
        if self.challenge == "turn_head" and self.phase == "challenge" and obs.profile and not obs.faces:
            self._start_away(obs, now)

    def _same_place(self, obs: Observation) -> bool:
        if self._anchor is None:
            return True
        cx, cy, width = _centre(obs)
        ax, ay, aw = self._anchor
        return abs(cx - ax) < self.max_jump * aw and abs(cy - ay) < self.max_jump * aw

    def eligible(self, obs: Observation) -> bool:
        return obs.good and (obs.eyes > 0 or self.challenge == "turn_head") and self.phase in ("challenge", "passed")


def _centre(obs: Observation) -> tuple[float, float, float]:
    x, y, w, h = obs.faces[0]
    return x + w / 2, y + h / 2, float(w)


def crop_face(frame: np.ndarray, box: tuple[int, int, int, int], max_height: int = 640) -> np.ndarray:
    """Head and a little shoulder around the face box, like an ID photo."""
    x, y, w, h = box
    fh, fw = frame.shape[:2]
    x0, x1 = max(0, int(x - 0.5 * w)), min(fw, int(x + 1.5 * w))
    y0, y1 = max(0, int(y - 0.6 * h)), min(fh, int(y + 1.6 * h))
    crop = frame[y0:y1, x0:x1]
    if crop.shape[0] > max_height:
        scale = max_height / crop.shape[0]
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(crop)


class FaceCapture(FrameWorker):
    """Worker that runs the gates and the challenge on a camera's frames.

    Publishes on the camera's bus (source = camera role):
    ``face.prompt`` {code} whenever the instruction changes,
    ``face.done`` {jpeg: bytes, quality: 0..1} once, or
    ``face.failed`` {code: "liveness_failed" | "timeout" | "no_camera"}.
    The JPEG lives only in memory (put it in ``Session.face_image``).
    """

    thread_name = "face-capture"
    camera_grace_s = 3.0         # a camera still (re)connecting gets this long before no_camera

    def __init__(self, camera, *, challenge: str = "blink", timeout_s: float = 20.0, hold_frames: int = 4,
                 analyzer: FaceAnalyzer | None = None):
        if challenge not in ("blink", "turn_head"):
            raise ValueError(f"unknown liveness challenge {challenge!r}")
        super().__init__(camera)
        self.challenge = challenge
        self.timeout_s = timeout_s
        self.hold_frames = hold_frames
        self.analyzer = analyzer or FaceAnalyzer()
        self.result: dict | None = None

    def start(self) -> None:
        if not (self._thread and self._thread.is_alive()):
            self.result = None
        super().start()

    def wait(self, timeout: float) -> dict | None:
        if self._thread:
            self._thread.join(timeout)
        return self.result

    def _run(self) -> None:
        liveness = Liveness(self.challenge)
        started = time.monotonic()
        seq, last_code, held = 0, None, 0
        best: tuple[float, np.ndarray, tuple] | None = None    # (score, frame, box in frame px)
        while not self._stop.is_set():
            now = time.monotonic()
            if now - started > self.timeout_s:
                self._finish("face.failed", code="liveness_failed" if liveness.phase != "settle" else "timeout")
                return
            seq, frame = self.camera.wait_frame(seq, timeout=0.5)
            if frame is None:
                if not self.camera.status.usable and now - started > self.camera_grace_s:
                    self._finish("face.failed", code="no_camera")
                    return
                continue
            obs, scale = self.analyzer.analyse(frame, look_for_profile=liveness.phase == "challenge"
                                               and self.challenge == "turn_head")
            liveness.observe_turn(obs, now)
            code = liveness.step(obs, now)
            if code != last_code:
                self._publish("face.prompt", code=code)
                last_code = code
            if liveness.eligible(obs):
                score = obs.score()
                if best is None or score >= best[0]:
                    box = tuple(int(v / scale) for v in obs.faces[0])
                    best = (score, frame, box)
                if liveness.passed:
                    held += 1
            if liveness.passed and held >= self.hold_frames and best is not None:
                ok, jpeg = cv2.imencode(".jpg", crop_face(best[1], best[2]), [cv2.IMWRITE_JPEG_QUALITY, 90])
                self._finish("face.done", jpeg=jpeg.tobytes(), quality=best[0])
                return

    def _finish(self, topic: str, **data) -> None:
        self.result = {"topic": topic, **data}
        self._publish(topic, **data)
