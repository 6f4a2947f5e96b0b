"""Attacks on the reference platform, made over HTTP as an attacker would (raw requests, no
kiosk client): a real server on loopback (central.testing.run_server), SQLite and PostgreSQL."""
from __future__ import annotations

import base64
import hashlib
import uuid

import cv2
import pytest
import requests

from central.admin import issue_kiosk_token
from central.testing import run_server

RESIDENT_A = "440304194905120026"
RESIDENT_B = "11010519491231002X"


@pytest.fixture
def platform(central_db):
    with run_server(central_db.db, pepper_path=central_db.pepper, kiosk_id="kiosk-a") as running:
        yield running


def face_jpeg(**scene) -> bytes:
    """A frame of the simulated face camera (devices.camera.FaceScene), as a kiosk sends it."""
    from devices.camera_scenes import FaceScene
    frame = FaceScene()
    for name, value in scene.items():  # e.g. faces=0: nobody in front of the camera
        setattr(frame, name, value)
    return cv2.imencode(".jpg", frame.render(1280, 720))[1].tobytes()


class Kiosk:
    """One enrolled kiosk, speaking raw HTTP."""

    def __init__(self, base_url: str, token: str, kiosk_id: str):
        self.base_url, self.token, self.kiosk_id = base_url, token, kiosk_id

    def call(self, method: str, path: str, json=None, grant: str | None = None, **headers) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **headers}
        if grant:
            headers["X-Presence-Grant"] = grant
        return requests.request(method, self.base_url + path, json=json, headers=headers, timeout=30)

    def apply(self, id_number: str = RESIDENT_A, service_id: str = "residence-permit-endorsement") -> dict:
        page = b"scan of a household register"
        body = {"service_id": service_id, "applicant": {"name": "王秀英", "id_number": id_number},
                "form": {"phone": "13800138000"},
                "materials": [{"id": "household-register", "name": "户口簿",
                               "pages": [{"sha256": hashlib.sha256(page).hexdigest(),
                                          "content_b64": base64.b64encode(page).decode()}]}],
                "delivery": {"method": "self_print"}, "submitted_at": None, "offline": False}
        answer = self.call("POST", "/v1/applications", body, **{"Idempotency-Key": str(uuid.uuid4())})
        assert answer.status_code == 201, answer.text
        return answer.json()

    def verify(self, id_number: str = RESIDENT_A, **scene) -> requests.Response:
        return self.call("POST", "/v1/identity/verify",
                         {"card": {"id_number": id_number, "name": "王秀英"},
                          "photo_wlt_b64": base64.b64encode(bytes(1024)).decode(),
                          "face_jpeg_b64": base64.b64encode(face_jpeg(**scene)).decode()})

    def present(self, id_number: str = RESIDENT_A) -> str:
        """The resident proves presence here (card + matching face): the grant."""
        answer = self.verify(id_number)
        assert answer.status_code == 200 and answer.json()["match"], answer.text
        return answer.json()["presence_grant"]


@pytest.fixture
def kiosk_a(platform) -> Kiosk:
    return Kiosk(platform.base_url, platform.token, platform.kiosk_id)


@pytest.fixture
def kiosk_b(platform) -> Kiosk:
    return Kiosk(platform.base_url, issue_kiosk_token(platform.store, "kiosk-b"), "kiosk-b")
