"""QR/barcodes: both backends on Chinese payloads, zbar repair, hardware scanners, CLIs."""
from __future__ import annotations

import os
import time

import cv2
import numpy as np
import pytest
import qrcode
import zxingcpp

from devices import registry
from devices.base import State, wait_for
from devices.camera import SimulatedCamera
from devices.camera_scenes import PictureScene
from common.events import EventBus
from devices.qr import (CameraQrScanner, HidScanner, SimulatedSerialScanner, decode_frame, decode_image,
                        hid_events, repair_zbar_text)
from kiosk import cli

CHINESE = ["粤", "政务服务", "粤B12345 政务服务 pickup=8812", "福田区华富街道 https://zw.example.cn/q?id=42&n=张三",
           "䶮", "ASCII only 123"]


def qr_image(payload: bytes, box: int = 8) -> np.ndarray:
    return np.array(qrcode.make(payload, border=4, box_size=box).convert("L"))


def on_frame(code: np.ndarray, size=(1920, 1080)) -> np.ndarray:
    return PictureScene(code, 0.35).render(*size)


@pytest.mark.parametrize("backend", ["zxing", "pyzbar"])
@pytest.mark.parametrize("text", CHINESE)
def test_utf8_payloads_without_eci_come_out_right(backend, text):
    found = decode_image(qr_image(text.encode("utf-8")), backend)
    assert [d.text for d in found] == [text]
    assert found[0].symbology == "qrcode"


@pytest.mark.parametrize("backend", ["zxing", "pyzbar"])
def test_1080p_frame_downscaled(backend):
    frame = on_frame(qr_image("政务服务 取件码 3321".encode("utf-8"), box=4))
    assert [d.text for d in decode_frame(frame, backend)] == ["政务服务 取件码 3321"]


def test_zbar_mojibake_repair():
    assert repair_zbar_text("邊､") == "粤"                     # what zbar returns for UTF-8 "粤"
    assert repair_zbar_text("hello") == "hello"
    assert repair_zbar_text("日本語テキスト") == "日本語テキスト"   # real SJIS text is left alone


def test_gbk_payload_recovered_by_zxing_only():
    image = qr_image("政务服务".encode("gbk"))
    assert [d.text for d in decode_image(image, "zxing")] == ["政务服务"]
    assert [d.text for d in decode_image(image, "pyzbar")] != ["政务服务"]   # documented limitation


@pytest.mark.parametrize("fmt, text, name", [(zxingcpp.BarcodeFormat.EAN13, "6901234567892", "ean13"),
                                             (zxingcpp.BarcodeFormat.Code128, "SLIP-2026-0042", "code128")])
def test_linear_barcodes(fmt, text, name):
    image = np.array(zxingcpp.create_barcode(text, fmt).to_image(scale=3))
    image = cv2.copyMakeBorder(image, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    for backend in ("zxing", "pyzbar"):
        assert [(d.text, d.symbology) for d in decode_image(image, backend)] == [(text, name)]


def test_serial_scanner_utf8_and_gb18030_lines():
    bus = EventBus()
    got = []
    bus.subscribe("qr.scanned", lambda e: got.append((e.data["text"], e.data["symbology"])))
    scanner = SimulatedSerialScanner("qr_scanner", bus)
    scanner.open()
    try:
        assert wait_for(lambda: scanner.status.state == State.READY, 5)
        scanner.scan("政务服务 ABC")
        scanner.scan("粤B12345", encoding="gb18030")
        scanner.simulator.suffix = b"\r\n"
        scanner.scan("plain")
        scanner.scan("]Q1取件码 8812")               # AIM prefix enabled on the scanner
        assert wait_for(lambda: len(got) == 4, 5)
    finally:
        scanner.close()
    assert [text for text, _ in got] == ["政务服务 ABC", "粤B12345", "plain", "取件码 8812"]
    assert [symbology for _, symbology in got] == ["unknown"] * 3 + ["qrcode"]


def test_serial_scanner_missing_port_is_disconnected_with_reason(tmp_path, make_config):
    config = make_config(f'[devices.qr_scanner]\ndriver = "serial"\nport = "{tmp_path}/ttyACM9"\n')
    device = registry.build("qr_scanner", config, EventBus())
    device.open()
    try:
        assert wait_for(lambda: device.status.reason != "not opened yet", 5)
        assert device.status.state == State.DISCONNECTED and "ttyACM9" in device.status.reason
    finally:
        device.close()


def test_hid_wedge_reads_evdev_events(tmp_path):
    fifo = tmp_path / "event-kbd"
    os.mkfifo(fifo)
    bus = EventBus()
    got = []
    bus.subscribe("qr.scanned", lambda e: got.append(e.data["text"]))
    scanner = HidScanner("qr_scanner", bus, str(fifo))
    scanner.open()
    writer = os.open(fifo, os.O_WRONLY)
    try:
        events = hid_events("Pickup:AB-12#x") + hid_events("second")
        os.write(writer, events[:50])                  # split mid-event, like a short read
        time.sleep(0.05)
        os.write(writer, events[50:])
        assert wait_for(lambda: len(got) == 2, 5)
    finally:
        os.close(writer)
        scanner.close()
    assert got == ["Pickup:AB-12#x", "second"]
    with pytest.raises(ValueError):
        hid_events("粤")


def test_camera_scanner_publishes_each_code_once():
    bus = EventBus()
    got = []
    bus.subscribe("qr.scanned", lambda e: got.append((e.data["text"], e.data["symbology"])))
    scene = PictureScene(qr_image("取件码 8812".encode("utf-8"), 4), 0.4)
    scanner = CameraQrScanner("qr_scanner", bus, SimulatedCamera("qr_scanner.camera", bus, scene, 1280, 720))
    scanner.open()
    try:
        assert wait_for(lambda: got, 5)
        time.sleep(0.5)
        assert got == [("取件码 8812", "qrcode")]
        scene.show(qr_image(b"SECOND", 4))
        assert wait_for(lambda: len(got) == 2, 5)
    finally:
        scanner.close()


def test_cli_scan_decode(tmp_path, capsys):
    one, two, blank = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "blank.png"
    cv2.imwrite(str(one), qr_image("政务服务".encode("utf-8")))
    cv2.imwrite(str(two), on_frame(qr_image(b"HELLO-42", 4)))
    cv2.imwrite(str(blank), np.full((200, 200), 255, np.uint8))
    assert cli.main(["scan", "decode", str(one), str(two)]) == 0
    assert capsys.readouterr().out.splitlines() == ["政务服务", "HELLO-42"]
    assert cli.main(["scan", "decode", "--backend", "pyzbar", str(one)]) == 0
    assert capsys.readouterr().out.splitlines() == ["政务服务"]
    assert cli.main(["scan", "decode", str(blank)]) == 1
    assert "no QR code" in capsys.readouterr().err


def test_cli_doc_scan(tmp_path, capsys):
    from devices.camera_scenes import DocumentScene

    photo, empty, out = tmp_path / "photo.jpg", tmp_path / "empty.jpg", tmp_path / "page.jpg"
    scene = DocumentScene()
    cv2.imwrite(str(photo), scene.render(1920, 1080))
    scene.show_page = False
    cv2.imwrite(str(empty), scene.render(1920, 1080))
    assert cli.main(["doc", "scan", str(photo), "-o", str(out)]) == 0
    assert cv2.imread(str(out)).shape[:2] == (3508, 2480)
    assert cli.main(["doc", "scan", str(empty), "-o", str(tmp_path / "x.jpg")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no page found" in err[0]
    pdf = tmp_path / "two.pdf"
    assert cli.main(["doc", "scan", str(photo), str(photo), "--enhance", "-o", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")


def test_camera_scanner_follows_its_camera_status():
    bus = EventBus()
    camera = SimulatedCamera("qr_scanner.camera", bus, PictureScene(None), 640, 480)
    camera.backoff_base = 0.05
    camera.unplug()
    scanner = CameraQrScanner("qr_scanner", bus, camera)
    scanner.backoff_base = 0.05
    scanner.open()
    try:
        assert wait_for(lambda: "scanner camera" in scanner.status.reason, 5)
        assert scanner.status.state == State.DISCONNECTED
        camera.replug()
        assert wait_for(lambda: scanner.status.state == State.READY, 8)
    finally:
        scanner.close()
