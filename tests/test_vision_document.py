"""Document capture: page detection, A4 rectification, steady auto-capture, PDF."""
from __future__ import annotations

import stat
import time

import cv2
import numpy as np
import pytest

from devices.base import wait_for
from devices.camera import SimulatedCamera
from devices.camera_scenes import DocumentScene, render_page
from devices.document import DocumentScanner, NoPageFound, a4_size, detect_page, enhance_text, scan_still
from common.events import EventBus

PERSPECTIVES = [
    DocumentScene.DEFAULT_CORNERS,
    ((0.40, 0.05), (0.62, 0.07), (0.66, 0.95), (0.36, 0.92)),   # far from the camera at the top
    ((0.30, 0.12), (0.72, 0.10), (0.69, 0.88), (0.31, 0.91)),
]


@pytest.mark.parametrize("corners", PERSPECTIVES)
def test_detects_page_corners_within_two_pixels(corners):
    scene = DocumentScene(corners=corners)
    frame = scene.render(1920, 1080)
    found = detect_page(frame)
    assert found is not None
    truth = np.array(corners) * [1920, 1080]
    assert np.abs(found - truth).max() < 2.5


def test_landscape_page_gives_landscape_a4():
    scene = DocumentScene(corners=((0.15, 0.2), (0.85, 0.18), (0.86, 0.82), (0.14, 0.8)))
    corners = detect_page(scene.render(1920, 1080))
    assert a4_size(corners) == (3508, 2480)


def test_no_page_on_an_empty_desk_or_uniform_frame():
    scene = DocumentScene()
    scene.show_page = False
    assert detect_page(scene.render(1920, 1080)) is None
    assert detect_page(np.full((720, 1280, 3), 200, np.uint8)) is None
    with pytest.raises(NoPageFound):
        scan_still(scene.render(1280, 720))


def test_rectified_page_matches_the_original():
    page = render_page()
    frame = DocumentScene(page).render(1920, 1080)
    out = scan_still(frame)
    assert out.shape[:2] == (3508, 2480)
    # Compare with the page itself at the same size: the text lines line up.
    reference = cv2.cvtColor(cv2.resize(page, (620, 877)), cv2.COLOR_BGR2GRAY).astype(np.float32)
    got = cv2.cvtColor(cv2.resize(out, (620, 877)), cv2.COLOR_BGR2GRAY).astype(np.float32)
    correlation = np.corrcoef(reference.ravel(), got.ravel())[0, 1]
    assert correlation > 0.8, correlation


def test_enhance_flattens_a_shadow():
    page = np.full((3508, 2480), 230, np.uint8)
    page[:, :1240] = 150                                     # half the page in shadow
    cv2.putText(page, "TEXT", (300, 1500), cv2.FONT_HERSHEY_SIMPLEX, 10, 20, 30)
    out = enhance_text(page)
    assert abs(int(out[200, 200]) - int(out[200, 2300])) < 20   # paper the same on both halves
    assert out[1500 - 60, 300 + 60] < 120 or (out < 100).sum() > 10_000   # ink stays dark


def _scanner(tmp_path, bus, scene, **kwargs):
    cam = SimulatedCamera("document_camera", bus, scene, 1280, 720, fps=15)
    cam.open()
    assert wait_for(lambda: cam.latest()[1] is not None, 5)
    return cam, DocumentScanner(cam, tmp_path, **kwargs)


def test_auto_capture_once_per_sheet_then_pdf(tmp_path):
    bus = EventBus()
    captured, previews = [], []
    bus.subscribe("document.captured", lambda e: captured.append(e.data))
    bus.subscribe("document.preview", lambda e: previews.append(e.data))
    scene = DocumentScene()
    cam, scanner = _scanner(tmp_path, bus, scene, steady_seconds=0.4)
    scanner.start()
    try:
        assert wait_for(lambda: len(captured) == 1, 5)
        time.sleep(0.8)
        assert len(captured) == 1, "the same sheet must not be captured twice"
        scene.show_page = False                  # sheet taken away ...
        time.sleep(0.4)
        scene.show_page = True                   # ... next sheet put down
        scene.move(PERSPECTIVES[2])
        assert wait_for(lambda: len(captured) == 2, 5)
    finally:
        scanner.stop()
        cam.close()
    assert [c["page_index"] for c in captured] == [0, 1]
    for item in captured:
        path = tmp_path / item["jpeg_path"].rsplit("/", 1)[-1]
        assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
        assert cv2.imread(str(path)).shape[:2] == (3508, 2480)
    assert any(p["corners"] is None for p in previews)
    steady = [p["steady"] for p in previews if p["corners"]]
    assert steady and max(steady) == 1.0 and min(steady) < 1.0
    pdf = scanner.write_pdf()
    assert pdf.read_bytes().count(b"/Type /Page\n") + pdf.read_bytes().count(b"/Type /Page ") == 2
    scanner.discard_page(0)
    assert len(scanner.pages) == 1


def test_moving_page_is_not_captured_but_manual_capture_is(tmp_path):
    bus = EventBus()
    captured = []
    bus.subscribe("document.captured", lambda e: captured.append(e.data))
    scanner = DocumentScanner(_NoCamera(bus), tmp_path, steady_seconds=1.0)
    scene = DocumentScene()
    t = 0.0
    for step in range(30):                       # 3 s of a page shifting 2% of the width back and forth
        c = [(x + 0.02 * (step % 2), y) for x, y in PERSPECTIVES[0]]
        scene.move(c)
        assert scanner.process(scene.render(960, 540), t) is None
        t += 0.1
    scanner.capture_now()
    assert scanner.process(scene.render(960, 540), t) is not None
    assert len(captured) == 1


class _NoCamera:
    role = "document_camera"

    def __init__(self, bus):
        self.bus = bus


def test_pages_live_in_the_session_temp_dir_and_go_with_it(tmp_path, caplog):
    from kiosk.session import Session

    session = Session(temp_root=tmp_path / "sessions")
    scanner = DocumentScanner(_NoCamera(EventBus()), session.temp_dir)
    scanner.capture_now()
    with caplog.at_level("DEBUG"):
        page = scanner.process(DocumentScene().render(960, 540), 0.0)
    assert page is not None and page.parent == session.temp_dir
    assert str(page) not in caplog.text
    session.wipe()
    assert not page.exists()
