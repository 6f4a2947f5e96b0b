"""The cameras' resident-facing work, owned by the core: the live face capture for
人证核验 and the document scanner for 高拍仪 materials.

Both run their own worker threads and publish on the bus (``face.prompt`` /
``face.done`` / ``face.failed``, ``document.preview`` / ``document.captured``); the
screens listen to those events and call these methods.  At most one capture of each
kind runs at a time; starting one stops the previous.  Scanned pages are written into
the session's private directory and listed in ``Session.materials``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from devices.document import DocumentScanner
from devices.face import FaceCapture

FACE_CHALLENGE = "blink"
FACE_TIMEOUT_S = 20.0


class Captures:
    def __init__(self, devices: dict[str, Any]):
        self._devices = devices
        self._face: FaceCapture | None = None
        self._scanner: DocumentScanner | None = None
        self._material_id: str | None = None

    # -- 人证核验 ---------------------------------------------------------------
    def start_face(self) -> bool:
        """Start the live capture; False when there is no face camera."""
        self.stop_face()
        camera = self._devices.get("camera")
        if camera is None:
            return False
        self._face = FaceCapture(camera, challenge=FACE_CHALLENGE, timeout_s=FACE_TIMEOUT_S)
        self._face.start()
        return True

    def stop_face(self) -> None:
        if self._face is not None:
            self._face.stop()
            self._face = None

    # -- 高拍仪 -----------------------------------------------------------------
    def start_scan(self, session, material_id: str) -> bool:
        """Scan pages of ``material_id`` into the session (adding to those it has);
        False when there is no document camera."""
        self.stop_scan()
        camera = self._devices.get("document_camera")
        if camera is None:
            return False
        out_dir = session.temp_dir / "materials" / material_id
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._scanner = DocumentScanner(camera, out_dir)
        self._scanner.pages = list(session.materials.get(material_id, []))
        self._material_id = material_id
        self._scanner.start()
        return True

    def stop_scan(self) -> None:
        if self._scanner is not None:
            self._scanner.stop()
            self._scanner = None
            self._material_id = None

    @property
    def scanning(self) -> bool:
        return self._scanner is not None

    def capture_page(self) -> None:
        """拍照: capture the next frame that shows a page."""
        if self._scanner is not None:
            self._scanner.capture_now()

    def discard_last_page(self, session) -> list[Path]:
        """重拍: drop the last page (its file is deleted); returns the pages left."""
        if self._scanner is not None and self._scanner.pages:
            self._scanner.discard_page(len(self._scanner.pages) - 1)
        return self.record_pages(session)

    def record_pages(self, session) -> list[Path]:
        """Copy the scanner's pages into ``Session.materials`` (after ``document.captured``)."""
        if self._scanner is None or session is None:
            return []
        pages = list(self._scanner.pages)
        if pages:
            session.materials[self._material_id] = pages
        else:
            session.materials.pop(self._material_id, None)
        return pages

    def stop(self) -> None:
        self.stop_face()
        self.stop_scan()
