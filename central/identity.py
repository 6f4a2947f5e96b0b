"""The reference platform's identity check (人证核验) -- a stand-in, said plainly.

A real platform compares the live face with the card photo through a
licensed comparison service (and decodes the WLT photo with the vendor's
licensed library).  Neither is available here: no open WLT decoder exists,
and no face-recognition model may be downloaded.  So the reference matcher is
deterministic and checks what it can:

* the WLT photo, when sent, is the 1024 bytes a card carries;
* the face image is a JPEG or PNG no larger than ``MAX_SIDE`` pixels a side -- read from its
  header *before* decoding, so a small file declaring a huge image cannot exhaust memory;
* the face image decodes as an image (OpenCV) and holds exactly one frontal
  face found by OpenCV's Haar cascade, large enough to compare
  (``MIN_FACE_FRACTION`` of the image width).

``score`` is a face-quality figure in [0, 1] (face size and sharpness), not a
similarity; ``match`` is true when it reaches ``MATCH_THRESHOLD``.  It tells
"a real, usable face is in front of the camera" from "no face / several
faces / blurred", which is what the kiosk flow needs to be exercised.
"""
from __future__ import annotations

import struct
import threading
from dataclasses import dataclass

import cv2
import numpy as np

METHOD = "reference-face-presence-v1"
WLT_SIZE = 1024
MIN_FACE_FRACTION = 0.15
MATCH_THRESHOLD = 0.6
MAX_SIDE = 4096
_cascade_lock = threading.Lock()
_cascade: cv2.CascadeClassifier | None = None


@dataclass(frozen=True)
class MatchResult:
    match: bool
    score: float
    reason: str


def _detector() -> cv2.CascadeClassifier:
    global _cascade
    with _cascade_lock:
        if _cascade is None:
            _cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
            if _cascade.empty():
                raise RuntimeError("OpenCV's frontal-face cascade is missing (opencv-python >= 5?)")
        return _cascade


_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR or a JPEG's frame header, without decoding; None when the
    bytes are neither (or the header is cut short)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if marker in _JPEG_FRAMES:
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        pos += 2 + length
    return None


def reference_match(photo_wlt: bytes | None, face_image: bytes) -> MatchResult:
    if photo_wlt is not None and len(photo_wlt) != WLT_SIZE:
        return MatchResult(False, 0.0, f"card photo must be {WLT_SIZE} bytes of WLT, got {len(photo_wlt)}")
    size = image_size(face_image)
    if size is None:
        return MatchResult(False, 0.0, "the face image is not a JPEG or PNG")
    if max(size) > MAX_SIDE or min(size) == 0:
        return MatchResult(False, 0.0, f"the face image is {size[0]}x{size[1]} px; at most {MAX_SIDE} a side")
    image = cv2.imdecode(np.frombuffer(face_image, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        return MatchResult(False, 0.0, "the face image could not be decoded")
    height, width = image.shape
    scale = 640.0 / max(height, width)
    small = cv2.resize(image, None, fx=scale, fy=scale) if scale < 1 else image
    faces = _detector().detectMultiScale(cv2.equalizeHist(small), scaleFactor=1.1, minNeighbors=5,
                                         minSize=(int(small.shape[1] * MIN_FACE_FRACTION),) * 2)
    if len(faces) == 0:
        return MatchResult(False, 0.0, "no face found")
    if len(faces) > 1:
        return MatchResult(False, 0.0, "more than one face in the image")
    x, y, w, h = faces[0]
    crop = cv2.resize(small[y:y + h, x:x + w], (128, 128), interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(crop, cv2.CV_64F).var())
    size_score = min(1.0, (w / small.shape[1]) / 0.3)        # a face 30% of the width or more is ideal
    sharp_score = min(1.0, sharpness / 300.0)                 # Laplacian variance ≥ 300 on 128 px: sharp
    score = float(0.5 * size_score + 0.5 * sharp_score)
    matched = score >= MATCH_THRESHOLD
    return MatchResult(matched, score, "face found" if matched else "face too small or blurred")
