"""Face capture: quality gates, blink / head-turn liveness, best frame, events."""
from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from devices.base import wait_for
from devices.camera import SimulatedCamera
from devices.camera_scenes import FaceScene
from common.events import EventBus
from devices.face import FaceAnalyzer, FaceCapture, Liveness, Observation


@pytest.fixture(scope="module")
def analyzer():
    return FaceAnalyzer()


def _observe(analyzer, scene, size=(1280, 720)):
    return analyzer.analyse(scene.render(*size))[0]


@pytest.mark.parametrize("setup, code", [
    (dict(), None),
    (dict(faces=0), "no_face"),
    (dict(faces=2, scale=0.5), "multiple_faces"),
    (dict(scale=0.35), "too_far"),
    (dict(offset=(0.3, 0.0)), "not_centred"),
    (dict(brightness=0.3), "too_dark"),
    (dict(blur=21), "blurry"),
])
def test_quality_gates(analyzer, setup, code):
    scene = FaceScene()
    for key, value in setup.items():
        setattr(scene, key, value)
    obs = _observe(analyzer, scene)
    assert obs.code == code, (obs, setup)


def test_eyes_found_open_and_not_closed(analyzer):
    scene = FaceScene()
    assert _observe(analyzer, scene).eyes >= 1
    scene.eyes_closed = True
    closed = _observe(analyzer, scene)
    assert closed.good and closed.eyes == 0      # the face stays, the eyes go: a blink


def _obs(eyes=2, x=270, good=True, faces=1, profile=False):
    return Observation((640, 360), [(x, 100, 150, 150)] * faces, None if good else "no_face", eyes, profile,
                       sharpness=200, brightness=150)


def test_blink_state_machine():
    live = Liveness("blink")
    t = 0.0
    assert live.step(_obs(), t) == "hold_still"
    assert live.step(_obs(), t + 0.1) == "blink"
    assert live.step(_obs(), t + 0.2) == "blink"
    assert live.step(_obs(eyes=0), t + 0.3) == "blink"      # eyes shut
    assert not live.passed
    assert live.step(_obs(), t + 0.4) == "hold_still"       # and open again
    assert live.passed


def test_blink_with_a_swapped_face_does_not_pass():
    live = Liveness("blink")
    for i in range(3):
        live.step(_obs(), i * 0.1)
    live.step(_obs(eyes=0), 0.4)
    live.step(_obs(x=20), 0.5)                                # eyes "open" but somewhere else
    assert not live.passed
    live.step(_obs(eyes=0), 0.6)
    live.step(_obs(eyes=0), 3.0)                              # shut for too long: not a blink
    live.step(_obs(), 3.1)
    assert not live.passed


def test_turn_head_state_machine():
    live = Liveness("turn_head")
    for i in range(3):
        assert live.step(_obs(), i * 0.1) in ("hold_still", "turn_head")
    gone = _obs(good=False, faces=0, profile=True)
    gone.faces = []
    live.observe_turn(gone, 0.5)
    assert live.step(gone, 0.5) == "turn_head"
    assert live.step(_obs(), 0.9) == "hold_still"
    assert live.passed


class WatchedAnalyzer(FaceAnalyzer):
    """The real analyser, telling the test which eye state it has just analysed
    (so a test moves the scene on when the capture has seen it, not after a guess of a sleep)."""

    def __init__(self):
        super().__init__()
        self.saw_open_eyes, self.saw_closed_eyes = threading.Event(), threading.Event()

    def analyse(self, frame, **kwargs):
        obs, scale = super().analyse(frame, **kwargs)
        if obs.faces:
            (self.saw_open_eyes if obs.eyes else self.saw_closed_eyes).set()
        return obs, scale


def _run_capture(scene, timeout_s, during=None, analyzer=None):
    bus = EventBus()
    prompts, results = [], []
    bus.subscribe("face.prompt", lambda e: prompts.append(e.data["code"]))
    bus.subscribe("face.done", lambda e: results.append(("done", e.data)))
    bus.subscribe("face.failed", lambda e: results.append(("failed", e.data)))
    cam = SimulatedCamera("camera", bus, scene, 1280, 720, fps=15)
    cam.open()
    try:
        assert wait_for(lambda: cam.latest()[1] is not None, 5)
        capture = FaceCapture(cam, timeout_s=timeout_s, analyzer=analyzer)
        capture.start()
        if during:
            during(prompts)
        capture.wait(timeout_s + 3)
        capture.stop()
    finally:
        cam.close()
    return prompts, results


def test_live_person_blinks_and_gets_a_jpeg():
    scene, analyzer = FaceScene(), WatchedAnalyzer()

    def blink(prompts):
        assert wait_for(lambda: "blink" in prompts, 5)
        analyzer.saw_open_eyes.clear()                 # the challenge has started: open eyes first...
        assert analyzer.saw_open_eyes.wait(5)
        scene.eyes_closed = True
        assert analyzer.saw_closed_eyes.wait(5)        # ...then shut, seen by the capture
        scene.eyes_closed = False

    prompts, results = _run_capture(scene, 8.0, blink, analyzer)
    assert results and results[0][0] == "done", (prompts, results)
    data = results[0][1]
    assert 0.0 < data["quality"] <= 1.0
    face = cv2.imdecode(np.frombuffer(data["jpeg"], np.uint8), cv2.IMREAD_COLOR)
    assert face is not None and 200 < face.shape[0] <= 640
    assert len(FaceAnalyzer().frontal.detectMultiScale(cv2.cvtColor(face, cv2.COLOR_BGR2GRAY), 1.1, 5)) == 1
    assert prompts[-1] == "hold_still" and "blink" in prompts


def test_photo_held_still_fails_liveness():
    prompts, results = _run_capture(FaceScene(), 2.0)
    assert results == [("failed", {"code": "liveness_failed"})]
    assert "blink" in prompts


def test_nobody_there_times_out_with_no_face_prompt():
    scene = FaceScene()
    scene.faces = 0
    prompts, results = _run_capture(scene, 1.0)
    assert prompts == ["no_face"]
    assert results == [("failed", {"code": "timeout"})]


def test_dev_kiosk_simulated_camera_passes_on_its_own(make_config):
    from devices import registry

    bus = EventBus()
    cam = registry.build("camera", make_config(""), bus)
    assert cam.scene.blink_every_s > 0
    cam.scene.blink_every_s = 1.0           # blink sooner than the dev default to keep the test short
    cam.open()
    try:
        assert wait_for(lambda: cam.latest()[1] is not None, 5)
        capture = FaceCapture(cam, timeout_s=6.0)
        capture.start()
        result = capture.wait(9)
    finally:
        cam.close()
    assert result and result["topic"] == "face.done", result


def test_unplugged_camera_fails_with_no_camera():
    bus = EventBus()
    results = []
    bus.subscribe("face.failed", lambda e: results.append(e.data))
    cam = SimulatedCamera("camera", bus, FaceScene(), 640, 480)
    cam.unplug()
    cam.open()
    try:
        capture = FaceCapture(cam, timeout_s=5.0)
        capture.camera_grace_s = 0.3
        capture.start()
        capture.wait(3)
    finally:
        cam.close()
    assert results == [{"code": "no_camera"}]
