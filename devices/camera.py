"""Cameras: OpenCV capture on a grabber thread that keeps only the latest frame.

Why a grabber thread: V4L2 queues several buffers, so a consumer that reads
only when it is ready (face detection, page detection) would get stale frames
seconds old.  The grabber reads continuously and keeps the newest frame;
consumers call :meth:`Camera.latest` or :meth:`Camera.wait_frame`.  Frames are
shared and marked read-only -- copy before drawing on one.

Sources (``[devices.camera] source`` / ``[devices.document_camera] source``):
a device index (``0``), a V4L2 path (``/dev/video2``), a video file (looped at
its own frame rate) or a still image (repeated).  For V4L2 the MJPG fourcc is
set *before* the resolution; otherwise many UVC cameras fall back to YUYV and
1080p drops to ~6 fps.

The simulated camera (driver ``simulated``) runs the same grabber, status and
reconnect code over a synthetic capture that renders a scene: an A4 page lying
on a desk in perspective (document camera), a face in front of a wall (face
camera), or any picture (the scenes live in devices/camera_scenes.py).
``unplug()``/``replug()`` exercise the DISCONNECTED -> reconnect path.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from devices.base import Device, DeviceError, State
from common.events import EventBus


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` the grabber uses."""

    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def release(self) -> None: ...


class Camera(Device):
    """A camera adapter; ``latest()`` is the only thing consumers need."""

    kind = "camera"
    poll_interval = 0.5
    stall_timeout = 3.0          # no new frame for this long = unplugged / hung
    max_read_failures = 15       # consecutive failed reads before giving up

    def __init__(self, role: str, bus: EventBus | None, source: str, width: int, height: int):
        super().__init__(role, bus)
        self.source = source
        self.width, self.height = width, height
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._last_frame_at = 0.0
        self._capture: Capture | None = None
        self._grabber: threading.Thread | None = None
        self._grab_stop = threading.Event()
        self._lost_reason = ""

    # -- what consumers use ---------------------------------------------
    def latest(self) -> tuple[int, np.ndarray | None]:
        """(sequence number, newest frame) -- frame is None before the first one."""
        with self._cond:
            return self._seq, self._frame

    def wait_frame(self, after_seq: int, timeout: float) -> tuple[int, np.ndarray | None]:
        """Block until a frame newer than ``after_seq`` arrives (or timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._seq <= after_seq:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self._seq, self._frame

    # -- opening ----------------------------------------------------------
    def _open_capture(self) -> Capture:
        return open_source(self.source, self.width, self.height)

    def _connect(self) -> None:
        capture = self._open_capture()
        ok, frame = capture.read()
        if not ok or frame is None:
            capture.release()
            raise DeviceError(f"camera {self.source or self.role}: opened but delivered no frame", "no_frames")
        self._capture = capture
        self._lost_reason = ""
        self._store(frame)
        h, w = frame.shape[:2]
        if (w, h) != (self.width, self.height):
            self.set_status(State.WARNING, f"camera {self.source or self.role}: asked for "
                            f"{self.width}x{self.height}, it delivers {w}x{h}", "resolution")
        self._grab_stop.clear()
        self._grabber = threading.Thread(target=self._grab_loop, args=(capture,),
                                         name=f"grab-{self.role}", daemon=True)
        self._grabber.start()

    def _grab_loop(self, capture: Capture) -> None:
        failures = 0
        while not self._grab_stop.is_set():
            try:
                ok, frame = capture.read()
            except cv2.error as exc:
                ok, frame = False, None
                self._lost_reason = f"read error: {exc}"
            if ok and frame is not None:
                failures = 0
                self._store(frame)
                continue
            failures += 1
            if failures >= self.max_read_failures:
                self._lost_reason = self._lost_reason or f"{failures} reads in a row failed (unplugged?)"
                return
            self._grab_stop.wait(0.02)

    def _store(self, frame: np.ndarray) -> None:
        frame.flags.writeable = False
        with self._cond:
            self._frame = frame
            self._seq += 1
            self._last_frame_at = time.monotonic()
            self._cond.notify_all()

    def _poll(self) -> None:
        name = self.source or self.role
        if self._lost_reason:
            raise DeviceError(f"camera {name}: {self._lost_reason}", "lost")
        if time.monotonic() - self._last_frame_at > self.stall_timeout:
            raise DeviceError(f"camera {name}: no frame for {self.stall_timeout:.0f} s (unplugged or hung)",
                              "no_frames")

    def _disconnect(self) -> None:
        self._grab_stop.set()
        if self._grabber and self._grabber is not threading.current_thread():
            self._grabber.join(timeout=2)
        self._grabber = None
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        with self._cond:
            self._frame = None
            self._cond.notify_all()


class FrameWorker:
    """Base of the workers that consume a camera's frames on their own thread
    (document scanner, face capture) and publish on the camera's bus with
    the camera's role as the source."""

    thread_name = "frame-worker"

    def __init__(self, camera: Camera):
        self.camera = camera
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _publish(self, topic: str, **data) -> None:
        self.camera.bus.publish(topic, self.camera.role, **data)

    def _run(self) -> None:
        raise NotImplementedError


def open_source(source: str, width: int, height: int) -> Capture:
    """Open a device index, /dev/videoN path, video file or still image."""
    text = source.strip()
    if text.isdigit() or text.startswith("/dev/video"):
        return _open_v4l2(int(text) if text.isdigit() else text, width, height)
    path = Path(text)
    if not path.exists():
        raise DeviceError(f"camera source {text!r}: no such file or device", "no_device")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DeviceError(f"camera source {text}: not a readable image", "bad_source")
        return StillCapture(image)
    return FileCapture(str(path))


def _open_v4l2(device: int | str, width: int, height: int) -> Capture:
    if isinstance(device, str) and not Path(device).exists():
        raise DeviceError(f"camera {device}: no such device (unplugged?)", "no_device")
    cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
    if not cap.isOpened():
        raise DeviceError(f"camera {device}: cannot open (busy, no permission or not a camera)", "open_failed")
    # Order matters: fourcc first, then the size, or the driver picks YUYV at low fps.
    cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
    cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
    cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
    cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return cap


class _PacedCapture:
    """Delivers frames at ``fps`` like a real camera would (files, stills, scenes)."""

    def __init__(self, fps: float):
        self.interval = 1.0 / max(fps, 1.0)
        self._next = time.monotonic()

    def _pace(self) -> None:
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
        self._next = max(self._next + self.interval, time.monotonic() - self.interval)

    def release(self) -> None:
        pass


class StillCapture(_PacedCapture):
    def __init__(self, image: np.ndarray, fps: float = 10.0):
        super().__init__(fps)
        self.image = image

    def read(self) -> tuple[bool, np.ndarray | None]:
        self._pace()
        return True, self.image.copy()


class FileCapture(_PacedCapture):
    """A video file, looped, at the file's own frame rate."""

    def __init__(self, path: str):
        self._cap = cv2.VideoCapture(path)
        if not self._cap.isOpened():
            raise DeviceError(f"camera source {path}: not a readable video", "bad_source")
        super().__init__(self._cap.get(cv2.CAP_PROP_FPS) or 15.0)

    def read(self) -> tuple[bool, np.ndarray | None]:
        self._pace()
        ok, frame = self._cap.read()
        if not ok:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        return ok, frame

    def release(self) -> None:
        self._cap.release()


# -- simulation -----------------------------------------------------------

class Scene(Protocol):
    def render(self, width: int, height: int) -> np.ndarray: ...


class SimulatedCamera(Camera):
    """Same grabber/status code as :class:`Camera`, fed by a rendered scene."""

    def __init__(self, role: str, bus: EventBus | None, scene: Scene, width: int, height: int,
                 fps: float = 15.0):
        super().__init__(role, bus, f"simulated:{role}", width, height)
        self.scene = scene
        self.fps = fps
        self._plugged = threading.Event()
        self._plugged.set()

    def unplug(self) -> None:
        self._plugged.clear()

    def replug(self) -> None:
        self._plugged.set()

    def _open_capture(self) -> Capture:
        if not self._plugged.is_set():
            raise DeviceError(f"camera {self.source}: no such device (unplugged)", "no_device")
        return _SceneCapture(self, self.fps)


class _SceneCapture(_PacedCapture):
    def __init__(self, camera: SimulatedCamera, fps: float):
        super().__init__(fps)
        self.camera = camera

    def read(self) -> tuple[bool, np.ndarray | None]:
        self._pace()
        if not self.camera._plugged.is_set():
            return False, None
        return True, self.camera.scene.render(self.camera.width, self.camera.height).copy()


# -- registry factories -------------------------------------------------------

def create(role: str, section, config, bus: EventBus) -> Camera:
    if not section.source:
        raise DeviceError(f"{role}: driver opencv needs a source (index, /dev/videoN or file)", "no_source")
    return Camera(role, bus, section.source, section.width, section.height)


def create_simulated(role: str, section, config, bus: EventBus) -> Camera:
    """A file source plays that file; otherwise a synthetic scene for the role."""
    from devices.camera_scenes import DocumentScene, FaceScene

    if section.source:
        return Camera(role, bus, section.source, section.width, section.height)
    if role == "document_camera":
        scene: Scene = DocumentScene()
    else:
        scene = FaceScene()
        scene.blink_every_s = 3.0      # so the dev kiosk's face check can pass
    return SimulatedCamera(role, bus, scene, section.width, section.height)
