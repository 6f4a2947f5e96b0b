"""Device detection against the ID-card and printer simulators on real ptys,
a fake sysfs tree, lpstat output and a fake camera."""
from __future__ import annotations

import os
import random
import termios
import tty

import pytest

from devices.idcard.simulator import SamSimulator
from devices.printers.simulator import SimulatedPrinter
from kiosk import config as cfg
from kiosk.cli import main as kioskctl
from provisioning import detect
from provisioning.configfile import update_text


class BaudBoundSam(SamSimulator):
    """A SAM that only makes sense at its own baud rate: at any other rate the
    host sees line noise, as on a real UART."""

    SPEEDS = {115200: termios.B115200, 57600: termios.B57600, 38400: termios.B38400,
              19200: termios.B19200, 9600: termios.B9600}

    def _answer(self, body):
        if termios.tcgetattr(self._slave)[5] != self.SPEEDS[self.baud]:
            return bytes(random.Random(len(self.commands)).randrange(256) for _ in range(9))
        return super()._answer(body)


@pytest.fixture
def sam():
    simulator = BaudBoundSam(baud=38400, paced=False)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def printer():
    simulator = SimulatedPrinter()
    port = simulator.serve_pty()
    simulator.paper_near_end = True
    yield simulator, port
    simulator.unplug()


@pytest.fixture
def dead_port():
    master, slave = os.openpty()
    tty.setraw(slave)
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_serial_probe_finds_sam_at_its_baud_printer_and_silence(sam, printer, dead_port):
    _sim, printer_port = printer
    findings = detect.probe_serial([sam.port, printer_port, dead_port], timeout=0.2)
    by_port = {f.where: f for f in findings}
    reader = by_port[sam.port]
    assert reader.role == "id_reader" and reader.settings == {"driver": "sam_serial", "port": sam.port, "baud": 38400}
    assert "SAM id 05.01-" in reader.detail
    assert "sam_status" in sam.commands and "sam_id" in sam.commands
    assert by_port[printer_port].role == "receipt_printer" and "paper near end" in by_port[printer_port].detail
    assert by_port[printer_port].settings == {"driver": "serial", "connection": printer_port, "baud": 9600}
    assert by_port[dead_port].role == "serial" and not by_port[dead_port].usable


def test_faulty_sam_is_reported_not_proposed(sam):
    sam.sam_fault = True
    finding, = detect.probe_serial([sam.port], timeout=0.2)
    assert finding.role == "id_reader" and not finding.usable and "self-test" in finding.detail.lower()
    assert "id_reader" not in detect.propose([finding])


def test_usb_printers_from_sysfs(tmp_path):
    def device(name, vendor, product, product_name="", interface_class=None):
        d = tmp_path / name
        d.mkdir()
        (d / "idVendor").write_text(vendor + "\n")
        (d / "idProduct").write_text(product + "\n")
        if product_name:
            (d / "product").write_text(product_name + "\n")
        if interface_class:
            (d / f"{name}:1.0").mkdir()
            (d / f"{name}:1.0" / "bInterfaceClass").write_text(interface_class + "\n")
    device("1-1", "0416", "5011", "POS58 Printer", "07")
    device("1-2", "046d", "0825", "Webcam C270", "0e")
    device("1-3", "03f0", "0c2a", "HP LaserJet", "07")
    (tmp_path / "1-1:1.0" / "idVendor").parent.mkdir(exist_ok=True)   # interfaces have no ids
    findings = detect.probe_usb_printers(tmp_path)
    assert [(f.where, f.usable) for f in findings] == [("0416:5011", True), ("03f0:0c2a", False)]
    assert findings[0].settings == {"driver": "usb", "connection": "0x0416:0x5011"}
    assert "Xprinter" in findings[0].detail and "POS58" in findings[0].detail


def test_cups_queues_from_lpstat():
    class Done:
        returncode, stderr = 0, ""
        stdout = ("device for Licence_A4: ipp://127.0.0.1:8631/ipp/print\n"
                  "device for receipt: usb://Xprinter/XP-80\n")
    findings, note = detect.probe_cups(run=lambda *a, **k: Done())
    assert [f.where for f in findings] == ["Licence_A4", "receipt"] and note == ""

    class Down:
        returncode, stdout, stderr = 1, "", "lpstat: Scheduler is not running.\n"
    assert detect.probe_cups(run=lambda *a, **k: Down()) == ([], "CUPS: lpstat: Scheduler is not running.")


class FakeCapture:
    """What cv2.VideoCapture does for a UVC camera that supports ``sizes``."""

    def __init__(self, sizes):
        import numpy as np
        self.sizes, self.size, self.np = sizes, sizes[0], np

    def read(self):
        return True, self.np.zeros((self.size[1], self.size[0], 3), self.np.uint8)

    def set(self, prop, value):
        import cv2
        if prop == cv2.CAP_PROP_FRAME_WIDTH:
            self.want_w = int(value)
        elif prop == cv2.CAP_PROP_FRAME_HEIGHT:
            wanted = (self.want_w, int(value))
            # Drivers snap to the nearest supported size not larger than asked.
            self.size = max((s for s in self.sizes if s[0] <= wanted[0] and s[1] <= wanted[1]),
                            default=self.sizes[0], key=lambda s: s[0] * s[1])

    def get(self, prop):
        import cv2
        return {cv2.CAP_PROP_FRAME_WIDTH: self.size[0], cv2.CAP_PROP_FRAME_HEIGHT: self.size[1]}[prop]

    def release(self):
        pass


def test_cameras_and_the_proposal():
    cams = {"/dev/video0": [(640, 480), (1280, 720), (1920, 1080)],
            "/dev/video2": [(640, 480), (1920, 1080), (2592, 1944)],
            "/dev/video1": None}   # metadata node: does not open
    findings = detect.probe_cameras(cams, open_camera=lambda p: FakeCapture(cams[p]) if cams[p] else None)
    assert [f.where for f in findings] == ["/dev/video0", "/dev/video2"]
    assert findings[1].settings["sizes"] == [(640, 480), (1920, 1080), (2592, 1944)]
    proposal = detect.propose(findings)
    assert proposal["camera"] == {"enabled": True, "driver": "opencv", "source": "/dev/video0",
                                  "width": 1280, "height": 720}
    assert proposal["document_camera"]["source"] == "/dev/video2"
    assert (proposal["document_camera"]["width"], proposal["document_camera"]["height"]) == (2592, 1944)
    # The proposal is a valid [devices] config.
    text = detect.proposal_toml(proposal)
    config = cfg.parse(text)
    assert config.devices.document_camera.width == 2592
    assert "/dev/video0" in detect.table(findings, proposal)


def test_kioskctl_detect_apply(sam, printer, tmp_path, capsys, monkeypatch):
    _sim, printer_port = printer
    monkeypatch.setattr(detect, "probe_cameras", lambda paths=None: [])
    monkeypatch.setattr(detect, "probe_cups", lambda: ([], "CUPS not asked in this test"))
    config_path = tmp_path / "kiosk.toml"
    config_path.write_text(update_text("", {"kiosk": {"data_dir": str(tmp_path / "var")}}))
    status = kioskctl(["--config", str(config_path), "detect", "--port", sam.port, "--port", printer_port,
                       "--apply"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "PROPOSED AS" in out and "id_reader" in out
    config = cfg.load(config_path)
    assert (config.devices.id_reader.driver, config.devices.id_reader.port, config.devices.id_reader.baud) == \
        ("sam_serial", sam.port, 38400)
    assert config.devices.receipt_printer.connection == printer_port
    assert (tmp_path / "var" / "detected-devices.toml").exists()


def test_sound_cards_from_proc_asound_and_the_proposal(tmp_path):
    """The voice guidance's loudspeaker: the first card that is not an HDMI output, by its id."""
    cards = tmp_path / "cards"
    cards.write_text(" 0 [HDMI           ]: HDA-Intel - HDA ATI HDMI\n"
                     "                      HDA ATI HDMI at 0xfe860000 irq 56\n"
                     " 1 [Device         ]: USB-Audio - USB PnP Sound Device\n"
                     "                      C-Media Electronics Inc. USB PnP Sound Device at usb-0000:00:14.0-2\n")
    findings = detect.probe_sound_cards(cards)
    assert [(f.where, f.usable) for f in findings] == [("card 0", False), ("card 1", True)]
    proposal = detect.propose(findings)
    assert proposal["audio"] == {"enabled": True, "driver": "alsa", "device": "plughw:CARD=Device,DEV=0"}
    assert cfg.parse(detect.proposal_toml(proposal)).devices.audio.device == "plughw:CARD=Device,DEV=0"
    table = detect.table(findings, proposal)
    assert "USB PnP Sound Device" in table and "not used" in table
    cards.write_text("--- no soundcards ---\n")
    assert detect.probe_sound_cards(cards) == []
