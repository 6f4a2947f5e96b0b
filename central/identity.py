"""The reference platform's identity check (人证核验) -- a stand-in, said plainly.

A real platform compares the live face with the card photo through a
licensed comparison service (and decodes the WLT photo with the vendor's
licensed library).  Neither is available here: no open WLT decoder exists,
and no face-recognition model may be downloaded.  So the reference matcher is
deterministic and checks what it can:

* the WLT photo, when sent, is the 1024 bytes a card carries;
* the face image decodes as an image (OpenCV) and holds exactly one frontal
  face found by OpenCV's Haar cascade, large enough to compare
  (``MIN_FACE_FRACTION`` of the image width).

``score`` is a face-quality figure in [0, 1] (face size and sharpness), not a
similarity; ``match`` is true when it reaches ``MATCH_THRESHOLD``.  It tells
"a real, usable face is in front of the camera" from "no face / several
faces / blurred", which is what the kiosk flow needs to be exercised.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

METHOD = "reference-face-presence-v1"
WLT_SIZE = 1024
MIN_FACE_FRACTION = 0.15
MATCH_THRESHOLD = 0.6
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


def reference_match(photo_wlt: bytes | None, face_image: bytes) -> MatchResult:
    if photo_wlt is not None and len(photo_wlt) != WLT_SIZE:
        return MatchResult(False, 0.0, f"card photo must be {WLT_SIZE} bytes of WLT, got {len(photo_wlt)}")
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
