"""Camera adapter: sources, latest-frame grabber, unplug -> DISCONNECTED -> reconnect."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from devices import registry
from devices.base import DeviceError, State, wait_for
from devices.camera import Camera, SimulatedCamera, open_source
from devices.camera_scenes import DocumentScene, FaceScene
from common.events import EventBus


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(DeviceError) as err:
        open_source(str(tmp_path / "nope.mp4"), 640, 480)
    assert err.value.code == "no_device" and "nope.mp4" in str(err.value)
    with pytest.raises(DeviceError) as err:
        open_source("/dev/video97", 640, 480)
    assert err.value.code == "no_device"


def test_unreadable_image_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DeviceError) as err:
        open_source(str(bad), 640, 480)
    assert err.value.code == "bad_source"


def test_image_file_source_delivers_frames_and_warns_on_size(tmp_path):
    path = tmp_path / "still.png"
    cv2.imwrite(str(path), np.full((120, 160, 3), 77, np.uint8))
    cam = Camera("camera", EventBus(), str(path), 1280, 720)
    cam.open()
    try:
        assert wait_for(lambda: cam.latest()[0] >= 3, 5)
        seq, frame = cam.latest()
        assert frame.shape == (120, 160, 3) and frame[0, 0, 0] == 77
        assert not frame.flags.writeable          # shared frames are read-only
        assert cam.status.state == State.WARNING and cam.status.code == "resolution"
        newer, _ = cam.wait_frame(seq, timeout=2)
        assert newer > seq
    finally:
        cam.close()


def test_video_file_source_loops(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), i * 40, np.uint8))
    writer.release()
    cam = Camera("camera", EventBus(), str(path), 64, 48)
    cam.open()
    try:
        assert wait_for(lambda: cam.latest()[0] >= 12, 5), "a 5-frame clip must loop"
        assert cam.status.state == State.READY
    finally:
        cam.close()


def test_unplug_goes_disconnected_and_replug_recovers():
    bus = EventBus()
    states = []
    bus.subscribe("device.status", lambda e: states.append(e.data["state"]))
    cam = SimulatedCamera("camera", bus, FaceScene(), 320, 240, fps=30)
    cam.backoff_base = 0.05
    cam.open()
    try:
        assert wait_for(lambda: cam.status.state == State.READY, 5)
        cam.unplug()
        assert wait_for(lambda: cam.status.state == State.DISCONNECTED, 6)
        assert "camera" in cam.status.reason
        assert cam.latest()[1] is None            # no stale frame served while unplugged
        cam.replug()
        assert wait_for(lambda: cam.status.state == State.READY, 6)
        assert wait_for(lambda: cam.latest()[1] is not None, 3)
    finally:
        cam.close()
    first_ready = states.index("ready")
    lost = states.index("disconnected", first_ready)
    assert "ready" in states[lost:]


def test_registry_builds_simulated_cameras(make_config):
    config = make_config("")
    bus = EventBus()
    face_cam = registry.build("camera", config, bus)
    doc_cam = registry.build("document_camera", config, bus)
    assert isinstance(face_cam.scene, FaceScene) and isinstance(doc_cam.scene, DocumentScene)
    assert (doc_cam.width, doc_cam.height) == (1920, 1080)


def test_registry_opencv_without_source_says_why(make_config):
    config = make_config('[devices.camera]\ndriver = "opencv"\n')
    device = registry.build("camera", config, EventBus())
    device.open()
    assert device.status.state == State.DISCONNECTED
    assert "needs a source" in device.status.reason


def test_v4l2_sets_mjpg_before_the_resolution(monkeypatch):
    calls = []

    class FakeV4L2:
        def __init__(self, device, api):
            calls.append(("open", device, api))

        def isOpened(self):
            return True

        def set(self, prop, value):
            calls.append((prop, value))
            return True

    monkeypatch.setattr(cv2, "VideoCapture", FakeV4L2)
    open_source("0", 1920, 1080)
    props = [c[0] for c in calls[1:]]
    assert calls[0] == ("open", 0, cv2.CAP_V4L2)
    assert props.index(cv2.CAP_PROP_FOURCC) < props.index(cv2.CAP_PROP_FRAME_WIDTH)
    assert props.index(cv2.CAP_PROP_FOURCC) < props.index(cv2.CAP_PROP_FRAME_HEIGHT)
    assert (cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG")) in calls
    assert (cv2.CAP_PROP_FRAME_WIDTH, 1920) in calls and (cv2.CAP_PROP_FRAME_HEIGHT, 1080) in calls
