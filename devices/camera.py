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
camera), or any picture.  ``unplug()``/``replug()`` exercise the
DISCONNECTED -> reconnect path.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from devices.base import Device, DeviceError, State
from devices.events import EventBus


SAMPLES = Path(__file__).resolve().parent.parent / "assets" / "samples"
FACE_SAMPLE = SAMPLES / "face_astronaut.jpg"
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


def _desk(width: int, height: int, seed: int = 7) -> np.ndarray:
    """A dark wooden-ish desk: brown with low-frequency grain, deterministic."""
    rng = np.random.default_rng(seed)
    grain = cv2.resize(rng.normal(0, 1, (height // 16 + 1, width // 64 + 1)).astype(np.float32),
                       (width, height), interpolation=cv2.INTER_CUBIC)
    base = np.empty((height, width, 3), np.float32)
    base[:] = (40, 70, 105)  # BGR brown
    base += grain[..., None] * 12
    return np.clip(base, 0, 255).astype(np.uint8)


def render_page(width: int = 827, height: int = 1169, title: str = "APPLICATION FORM") -> np.ndarray:
    """An A4 page (default ~100 dpi) with a title, text lines and a table."""
    page = np.full((height, width, 3), 250, np.uint8)
    s = width / 827
    cv2.putText(page, title, (int(90 * s), int(120 * s)), cv2.FONT_HERSHEY_SIMPLEX, 1.4 * s, (20, 20, 20),
                max(1, int(3 * s)), cv2.LINE_AA)
    y = int(200 * s)
    for i in range(18):
        words = "Name  Address  Service  Date  Signature  Phone".split()
        line = " ".join(words[(i + k) % len(words)] for k in range(6))
        cv2.putText(page, line, (int(90 * s), y), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * s, (30, 30, 30),
                    max(1, int(2 * s)), cv2.LINE_AA)
        y += int(42 * s)
    cv2.rectangle(page, (int(90 * s), y), (width - int(90 * s), y + int(220 * s)), (30, 30, 30), max(1, int(2 * s)))
    return page


class DocumentScene:
    """An A4 page lying on a desk, seen in perspective from above.

    ``corners`` are fractions of the frame (tl, tr, br, bl); ``page=None``
    renders the empty desk.  Frames are cached until the scene changes.
    """

    DEFAULT_CORNERS = ((0.33, 0.08), (0.66, 0.10), (0.70, 0.93), (0.29, 0.90))

    def __init__(self, page: np.ndarray | None = None, corners=DEFAULT_CORNERS):
        self.page = render_page() if page is None else page
        self.corners = tuple(corners)
        self.show_page = True
        self._cache: tuple | None = None

    def move(self, corners) -> None:
        self.corners = tuple(corners)

    def render(self, width: int, height: int) -> np.ndarray:
        key = (width, height, self.corners, self.show_page, id(self.page))
        if self._cache and self._cache[0] == key:
            return self._cache[1]
        frame = _desk(width, height)
        if self.show_page:
            ph, pw = self.page.shape[:2]
            src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
            dst = np.float32([[x * width, y * height] for x, y in self.corners])
            matrix = cv2.getPerspectiveTransform(src, dst)
            warped = cv2.warpPerspective(self.page, matrix, (width, height))
            mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), matrix, (width, height))
            frame[mask > 127] = warped[mask > 127]
        self._cache = (key, frame)
        return frame


class FaceScene:
    """A face in front of a plain wall, from the shipped public-domain sample.

    Knobs the tests turn: ``faces`` (0, 1, 2), ``scale`` (face crop height as
    a fraction of frame height), ``offset`` (centre shift as fractions),
    ``brightness`` (multiplier), ``blur`` (Gaussian kernel, 0 = sharp),
    ``eyes_closed`` (paints skin over the eyes: what a blink looks like to
    the eye cascade), ``blink_every_s`` (0 = never: a photo; the dev
    kiosk's simulated resident blinks every few seconds for 0.3 s).
    """

    def __init__(self, sample: Path = FACE_SAMPLE):
        image = cv2.imread(str(sample), cv2.IMREAD_COLOR)
        if image is None:
            raise DeviceError(f"face sample {sample} missing", "bad_source")
        self.sample = image
        self.eye_boxes = _find_eyes(image)
        self.faces = 1
        self.scale = 0.8
        self.offset = (0.0, 0.0)
        self.brightness = 1.0
        self.blur = 0
        self.eyes_closed = False
        self.blink_every_s = 0.0
        self._cache: tuple | None = None

    def _closed_now(self) -> bool:
        if self.eyes_closed:
            return True
        return bool(self.blink_every_s) and time.monotonic() % self.blink_every_s < 0.3

    def _face_image(self, closed: bool) -> np.ndarray:
        face = self.sample
        if closed:
            face = face.copy()
            for x, y, w, h in self.eye_boxes:
                skin = face[y + h + 2:y + h + 8, x:x + w].reshape(-1, 3).mean(axis=0)
                # Lid over the iris, lashes as a dark line: the face cascade still
                # fires (brows and lashes stay dark), the eye cascade does not.
                cv2.rectangle(face, (x + 2, int(y + 0.3 * h)), (x + w - 2, int(y + 0.7 * h)), skin.tolist(), -1)
                cv2.line(face, (x + w // 6, int(y + 0.6 * h)), (x + 5 * w // 6, int(y + 0.6 * h)), (30, 30, 45), 2)
        return face

    def render(self, width: int, height: int) -> np.ndarray:
        closed = self._closed_now()
        key = (width, height, self.faces, self.scale, self.offset, self.brightness, self.blur, closed)
        if self._cache and self._cache[0] == key:
            return self._cache[1]
        frame = np.empty((height, width, 3), np.uint8)
        frame[:] = np.linspace(170, 120, width, dtype=np.uint8)[None, :, None]  # lit wall
        face = self._face_image(closed)
        fh = int(height * self.scale)
        fw = int(face.shape[1] * fh / face.shape[0])
        face = cv2.resize(face, (fw, fh), interpolation=cv2.INTER_AREA)
        n = max(self.faces, 0)
        for i in range(n):
            cx = width / 2 + self.offset[0] * width + (i - (n - 1) / 2) * fw * 1.3
            cy = height / 2 + self.offset[1] * height
            x, y = int(cx - fw / 2), int(cy - fh / 2)
            x0, y0 = max(x, 0), max(y, 0)
            x1, y1 = min(x + fw, width), min(y + fh, height)
            if x1 > x0 and y1 > y0:
                frame[y0:y1, x0:x1] = face[y0 - y:y1 - y, x0 - x:x1 - x]
        if self.brightness != 1.0:
            frame = cv2.convertScaleAbs(frame, alpha=self.brightness)
        if self.blur:
            k = self.blur | 1
            frame = cv2.GaussianBlur(frame, (k, k), 0)
        self._cache = (key, frame)
        return frame


def _find_eyes(face: np.ndarray) -> list[tuple[int, int, int, int]]:
    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_eye.xml")
    eyes = cascade.detectMultiScale(gray[: gray.shape[0] * 2 // 3], 1.1, 5)
    return [tuple(int(v) for v in e) for e in eyes]


class PictureScene:
    """Any picture (a QR code, a receipt) held in front of a grey background."""

    def __init__(self, picture: np.ndarray | None, fraction: float = 0.5):
        self.picture = picture
        self.fraction = fraction
        self._cache: tuple | None = None

    def show(self, picture: np.ndarray | None) -> None:
        self.picture = picture

    def render(self, width: int, height: int) -> np.ndarray:
        key = (width, height, id(self.picture), self.fraction)
        if self._cache and self._cache[0] == key:
            return self._cache[1]
        frame = np.full((height, width, 3), 110, np.uint8)
        if self.picture is not None:
            pic = self.picture if self.picture.ndim == 3 else cv2.cvtColor(self.picture, cv2.COLOR_GRAY2BGR)
            side = int(min(width, height) * self.fraction)
            scale = side / max(pic.shape[:2])
            pic = cv2.resize(pic, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            ph, pw = pic.shape[:2]
            x, y = (width - pw) // 2, (height - ph) // 2
            frame[y:y + ph, x:x + pw] = pic
        self._cache = (key, frame)
        return frame


# -- registry factories -------------------------------------------------------

def create(role: str, section, config, bus: EventBus) -> Camera:
    if not section.source:
        raise DeviceError(f"{role}: driver opencv needs a source (index, /dev/videoN or file)", "no_source")
    return Camera(role, bus, section.source, section.width, section.height)


def create_simulated(role: str, section, config, bus: EventBus) -> Camera:
    """A file source plays that file; otherwise a synthetic scene for the role."""
    if section.source:
        return Camera(role, bus, section.source, section.width, section.height)
    if role == "document_camera":
        scene: Scene = DocumentScene()
    else:
        scene = FaceScene()
        scene.blink_every_s = 3.0      # so the dev kiosk's face check can pass
    return SimulatedCamera(role, bus, scene, section.width, section.height)
