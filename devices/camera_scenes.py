"""Simulated scenes in front of the simulated camera: a page on a desk, a face, any picture.

Separate from the camera code because they are test and development
fixtures, not drivers: each renders a frame on demand, cached until one of the
knobs the tests turn changes.
"""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from devices.base import DeviceError
from common.paths import ASSETS

FACE_SAMPLE = ASSETS / "samples" / "face_astronaut.jpg"


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
