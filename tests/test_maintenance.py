"""Maintenance mode: the actions (no Kivy) against a real KioskCore and the
reference platform, and the real app driven by touches under Xvfb."""
from __future__ import annotations

import os
import threading
import time

import pytest

from central.testing import run_server
from kiosk import config as cfg
from kiosk.core import KioskCore
from kiosk.platform import PlatformClient
from kiosk.maintenance import Maintenance, MaintenanceError
from kiosk.pin import hash_pin

PIN = "482913"


@pytest.fixture(scope="module")
def pin_hash():
    return hash_pin(PIN)


@pytest.fixture
def platform(tmp_path):
    with run_server(tmp_path / "central.db", kiosk_id="maint-kiosk") as server:
        yield server


@pytest.fixture
def config_path(tmp_path, platform, pin_hash):
    token = tmp_path / "token"
    token.write_text(platform.token)
    path = tmp_path / "kiosk.toml"
    path.write_text(f'# site notes stay\n[kiosk]\nid = "maint-kiosk"\ndata_dir = "{tmp_path / "var"}"\n'
                    f'[platform]\nurl = "{platform.base_url}"\ntoken_file = "{token}"\n'
                    f'[maintenance]\npin_hash = "{pin_hash}"\n[heartbeat]\nenabled = false\n')
    return path


@pytest.fixture
def core(config_path):
    kiosk = KioskCore(cfg.load(config_path))
    kiosk.start()
    yield kiosk
    kiosk.stop()


def test_entering_wipes_the_resident_session(core):
    session = core.begin_session()
    scratch = session.temp_dir
    (scratch / "face.jpg").write_bytes(b"resident data")
    maintenance = Maintenance(core)
    assert maintenance.enter("000000").outcome == "wrong" and core.session is session
    assert maintenance.enter(PIN).ok and core.session is None
    assert session.wiped and not scratch.exists()


def test_overview_and_retry_queue(core, platform):
    maintenance = Maintenance(core)
    item_id = core.outbox.enqueue("appeal", {"category": "x"}, [])  # fails validation: a dead letter
    core.sender.wake()
    deadline = time.monotonic() + 10
    while core.outbox.stats()["dead"] == 0:
        assert time.monotonic() < deadline, core.outbox.items()
        time.sleep(0.05)
    info = maintenance.overview()
    assert info["kiosk_id"] == "maint-kiosk" and info["queue"]["dead"] == 1
    assert info["devices"]["receipt_printer"]["state"] == "ready"
    assert maintenance.retry_queue() == 1
    assert core.outbox.get(item_id).state in ("pending", "sending", "dead")


def test_calibration_saves_offsets_in_the_apps_own_file_and_the_printer(core, config_path):
    from kiosk import printer_offsets
    before = config_path.read_text()
    maintenance = Maintenance(core)
    assert maintenance.save_calibration(21.5, 19.0) == (-1.5, 1.0)
    assert core.devices["licence_printer"].offset_mm == (-1.5, 1.0)
    assert printer_offsets.load(core.config) == (-1.5, 1.0)
    assert config_path.read_text() == before   # the config is read-only to the app (issue 12.6)
    job = maintenance.print_calibration_sheet()
    assert job.endswith(".pdf") and os.path.getsize(job) > 1000
    with pytest.raises(MaintenanceError, match="not plausible"):
        maintenance.save_calibration(80, 20)


def test_qr_enrolment_with_a_bad_code_changes_nothing(core, config_path, platform):
    before = config_path.read_text()
    with pytest.raises(MaintenanceError, match="unknown enrolment code"):
        Maintenance(core).enrol_from_qr(
            f"kiosk-enroll:v1?url={platform.base_url}&code=ABCD-EFGH-JK&fp=0011223344556677")
    assert config_path.read_text() == before


# -- the real app ----------------------------------------------------------------------------
def run_app(config, script, timeout=60):
    """Run the KioskApp and call ``script(app, step)``; step(fn) runs fn on the
    main thread and returns its value.  Returns after the app has stopped."""
    from screens.bootstrap import configure_kivy, watch_main_loop
    configure_kivy(config)
    from kivy.clock import Clock
    from screens.app import KioskApp

    app = KioskApp(config)
    watch_main_loop(app)
    failure: list[BaseException] = []

    def step(fn, wait=0.0):
        done, box = threading.Event(), {}

        def call(_dt):
            try:
                box["value"] = fn()
            except BaseException as exc:
                box["error"] = exc
            done.set()
        Clock.schedule_once(call, wait)
        if not done.wait(timeout):
            raise TimeoutError("main loop did not run the step")
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def driver():
        try:
            time.sleep(1.0)
            script(app, step)
        except BaseException as exc:
            failure.append(exc)
        finally:
            Clock.schedule_once(lambda _dt: app.stop(), 0)

    threading.Thread(target=driver, daemon=True).start()
    try:
        app.run()
    finally:
        app.shutdown()
    if failure:
        raise failure[0]


def tap(widget):
    from kivy.tests.common import UnitTestTouch
    x, y = widget.to_window(*widget.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()


def wait_until(step, predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while not step(predicate):
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


def find_button(root, text):
    from screens.widgets import KButton
    for widget in root.walk():
        if isinstance(widget, KButton) and widget.text == text:
            return widget
    raise AssertionError(f"no button {text!r}")


@pytest.mark.ui
def test_gesture_pin_panel_actions_and_back(config_path, tmp_path, monkeypatch):
    """Also: the real app tells systemd READY=1 and kicks the watchdog from its main loop."""
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs a display: run under xvfb-run (make test does)")
    from kiosk import printer_offsets
    from test_watchdog import _notify_socket, _receive
    socket_name, notify = _notify_socket()
    monkeypatch.setenv("NOTIFY_SOCKET", socket_name)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    messages: list[str] = []
    draining = threading.Event()

    def drain():      # read as systemd would, while the app runs
        while not draining.is_set():
            got = _receive(notify, 0.2)
            if got:
                messages.append(got[1])
    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    config = cfg.load(config_path)
    seen = {}

    def script(app, step):
        from kivy.core.window import Window
        from kivy.tests.common import UnitTestTouch
        step(app.begin_session)
        assert step(lambda: app.core.session is not None)

        def corner_taps():
            for _ in range(5):
                touch = UnitTestTouch(10, Window.height - 10)
                touch.touch_down()
                touch.touch_up()
        step(corner_taps)
        assert step(lambda: app.manager.current) == "maintenance"
        assert step(lambda: app.core.session) is None, "entering maintenance must wipe the session"
        screen = step(lambda: app.manager.get_screen("maintenance"))
        assert screen.mode == "pin"
        step(lambda: app.root_layout.export_to_png(str(tmp_path / "maintenance-pin.png")), wait=0.3)

        def type_pin(pin):
            for digit in pin:
                step(lambda d=digit: tap(find_button(screen, d)))
            step(lambda: tap(find_button(screen, "确认")))
            wait_until(step, lambda: not screen.busy)
        type_pin("000000")
        assert "还可尝试 4 次" in screen.message and screen.mode == "pin"
        type_pin(PIN)
        assert screen.mode == "panel"
        wait_until(step, lambda: screen.overview_text != "")
        assert "maint-kiosk" in screen.overview_text and "receipt_printer: ready" in screen.devices_text
        step(lambda: app.root_layout.export_to_png(str(tmp_path / "maintenance-panel.png")), wait=0.3)

        step(lambda: tap(find_button(screen, "打印测试小票")))
        wait_until(step, lambda: not screen.busy)
        assert screen.results_text.startswith("测试小票：printed"), screen.results_text
        assert app.core.devices["receipt_printer"].simulator.receipts

        step(lambda: tap(find_button(screen, "证照打印机校准")))
        assert screen.mode == "calibrate"
        step(lambda: [tap(b) for b in [find_button(screen, "+0.5")] * 2])
        step(lambda: tap(find_button(screen, "保存偏移")))
        wait_until(step, lambda: not screen.busy)
        seen["offsets"] = app.core.devices["licence_printer"].offset_mm
        step(lambda: tap(find_button(screen, "返回维护面板")))

        step(lambda: tap(find_button(screen, "返回服务")))
        assert step(lambda: app.manager.current) == "home"

    run_app(config, script)
    time.sleep(0.3)
    draining.set()
    drainer.join()
    notify.close()
    assert messages[0] == "READY=1\nSTATUS=serving as maint-kiosk", messages
    assert any(m.startswith("READY=1") for m in messages) and messages.count("WATCHDOG=1") >= 3, messages
    assert messages[-1] == "STOPPING=1"
    assert seen["offsets"] == (-1.0, 0.0)
    assert printer_offsets.load(cfg.load(config_path))[0] == -1.0
    assert (tmp_path / "maintenance-panel.png").exists()


class QrCamera:
    """Frames showing a QR code, as the camera adapter's wait_frame serves them."""

    def __init__(self, text):
        import numpy as np
        import qrcode
        image = qrcode.make(text, box_size=8, border=4).convert("RGB")
        frame = np.full((720, 1280, 3), 200, np.uint8)
        qr = np.asarray(image)
        frame[100:100 + qr.shape[0], 300:300 + qr.shape[1]] = qr
        self.frame, self.seq = frame, 0

    def wait_frame(self, after_seq, timeout):
        self.seq = after_seq + 1
        return self.seq, self.frame


def test_qr_enrolment_through_the_camera(core, config_path, platform):
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from central.admin import create_enroll_code
    from kiosk.menu_bundle import public_raw
    from central.platform_key import PlatformIdentity
    from provisioning.enroll import EnrolQr
    from kiosk.maintenance import scan_camera_for_qr

    key = base64.b64encode(public_raw(Ed25519PrivateKey.generate().public_key())).decode()
    platform.store.set_setting("menu_pubkeys", [key])
    fingerprint = PlatformIdentity.for_store(platform.store).fingerprint
    payload = EnrolQr(platform.base_url, create_enroll_code(platform.store), fingerprint).encode()
    text = scan_camera_for_qr(QrCamera(payload), threading.Event(), timeout_s=5)
    assert text == payload
    result = Maintenance(core).enrol_from_qr(text)
    enrolled = cfg.load(config_path)
    assert enrolled.kiosk.id == result.kiosk_id != "maint-kiosk" and enrolled.menu.pubkeys == [key]
    assert scan_camera_for_qr(QrCamera("https://example.org/not-enrolment"), threading.Event(), timeout_s=1) is None
