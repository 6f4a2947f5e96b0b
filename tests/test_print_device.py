"""The receipt printer driver against the simulated printer over real TCP and a real pty."""
from __future__ import annotations

import pytest

from devices.base import State, wait_for
from common.events import EventBus
from devices.printers.common import PrinterError
from devices.printers.escpos_link import FileLink, NetworkLink, SerialLink
from devices.printers.receipt import ReceiptPrinter
from devices.printers.simulator import SimulatedPrinter
from tests.test_print_receipt import sample


@pytest.fixture
def rig():
    """(printer device, simulator) on loopback TCP, connected and READY."""
    sim = SimulatedPrinter()
    host, port = sim.serve_tcp()
    device = ReceiptPrinter("receipt_printer", EventBus(), lambda: NetworkLink(host, port),
                            reply_timeout=0.2)
    device.poll_interval = 0.05
    device.backoff_base = 0.02
    device.open()
    assert wait_for(lambda: device.status.state == State.READY, 5)
    yield device, sim
    device.close()
    sim.close()


def test_prints_a_receipt_the_printer_understands(rig):
    device, sim = rig
    result = device.print_receipt(sample())
    assert result.ok and result.bytes_sent > 300 and not result.warnings
    assert "张*三" in sim.text() and "FT-2026-000123" in sim.text()
    assert sim.receipts[-1][-1].cut and not sim.interpreter.unknown
    assert device.status.state == State.READY


def test_paper_out_before_the_job_sends_nothing(rig):
    device, sim = rig
    sim.paper_out = True
    with pytest.raises(PrinterError) as err:
        device.print_receipt(sample())
    assert err.value.code == "paper_out"
    assert sim.receipts == [] and b"FT-2026" not in sim.received
    assert device.status.state == State.FAULT and device.status.code == "paper_out"


def test_paper_out_during_the_job_is_reported(rig):
    device, sim = rig
    sim.paper_out_after_lines(4)
    with pytest.raises(PrinterError) as err:
        device.print_receipt(sample())
    assert err.value.code == "paper_out" and "while printing" in str(err.value)
    assert sim.interpreter.lost_lines > 0 and not any(line.cut for line in sim.interpreter.jobs[-1])
    sim.paper_out = False                     # technician loads a roll: the poll notices
    assert wait_for(lambda: device.status.state == State.READY, 3)
    assert device.print_receipt(sample()).ok


def test_cover_open(rig):
    device, sim = rig
    sim.cover_open = True
    assert wait_for(lambda: device.status.code == "cover_open", 3)
    assert device.status.state == State.FAULT
    with pytest.raises(PrinterError, match="cover") as err:
        device.print_receipt(sample())
    assert err.value.code == "cover_open"


def test_near_end_is_a_warning_and_still_prints(rig):
    device, sim = rig
    sim.paper_near_end = True
    result = device.print_receipt(sample())
    assert result.ok and result.warnings == ["paper_near_end"]
    assert device.status.state == State.WARNING and device.status.usable
    assert "FT-2026-000123" in sim.text()


def test_no_reply_is_a_fault_never_plenty_of_paper(rig):
    device, sim = rig
    sim.no_reply = True
    assert wait_for(lambda: device.status.code == "no_reply", 3)
    assert device.status.state == State.FAULT and not device.status.usable
    with pytest.raises(PrinterError) as err:
        device.print_receipt(sample())
    assert err.value.code == "no_reply"
    sim.no_reply = False
    assert wait_for(lambda: device.status.state == State.READY, 3)


def test_unplugged_then_plugged_back(rig):
    device, sim = rig
    sim.unplug()
    with pytest.raises(PrinterError) as err:
        device.print_receipt(sample())
    assert err.value.code in ("disconnected", "no_reply")
    assert wait_for(lambda: device.status.state == State.DISCONNECTED, 3)
    sim.replug()
    assert wait_for(lambda: device.status.state == State.READY, 5)
    assert device.print_receipt(sample()).ok


def test_serial_printer_on_a_pty():
    sim = SimulatedPrinter(width_mm=58)
    path = sim.serve_pty()
    device = ReceiptPrinter("receipt_printer", EventBus(), lambda: SerialLink(path, 9600),
                            width_mm=58, reply_timeout=0.3)
    device.open()
    try:
        assert wait_for(lambda: device.status.state == State.READY, 5), device.status
        assert device.print_receipt(sample(language="zh_TW")).ok
        assert wait_for(lambda: "辦事回執" in sim.text(), 2)
        sim.paper_near_end = True
        assert wait_for(lambda: device.status.code == "paper_near_end", 5)
    finally:
        device.close()
        sim.close()


def test_simulated_driver_from_config(make_config):
    from devices import registry

    config = make_config("[devices.receipt_printer]\ndriver = \"simulated\"\npaper_width_mm = 58\n")
    device = registry.build("receipt_printer", config, EventBus())
    device.open()
    try:
        assert wait_for(lambda: device.status.state == State.READY, 5), device.status
        assert device.print_receipt(sample()).ok
        assert device.simulator.text().count("办事回执") == 1
        assert device.preview_png(sample()).startswith(b"\x89PNG")
    finally:
        device.close()                                 # stops the simulator it started too
    assert device.simulator._stop.is_set()


def test_capture_file_has_no_status_channel_so_paper_state_is_unknown(make_config, tmp_path):
    from devices import registry
    from devices.printers.simulator import Interpreter

    capture = tmp_path / "receipt.bin"
    config = make_config(f'[devices.receipt_printer]\ndriver = "file"\nconnection = "{capture}"\n')
    device = registry.build("receipt_printer", config, EventBus())
    device.open()
    try:
        assert wait_for(lambda: device.status.code == "status_unknown", 5), device.status
        assert device.status.state == State.WARNING        # unknown is never reported as READY
        assert device.print_receipt(sample()).warnings == ["status_unknown"]
        interp = Interpreter()
        interp.feed(capture.read_bytes())
        assert "FT-2026-000123" in interp.text() and not interp.unknown
    finally:
        device.close()


def test_unconfigured_connection_says_which_key():
    from devices.base import DeviceError
    from devices.printers.escpos_link import open_link

    with pytest.raises(DeviceError, match="devices.receipt_printer.connection"):
        open_link("serial", "")
    with pytest.raises(OSError, match="/dev/ttyNOPE"):
        open_link("serial", "/dev/ttyNOPE")


def test_usb_printer_through_python_escpos_and_pyusb():
    """python-escpos's Usb class and pyusb's core against the simulator as a USB device
    (a pyusb backend: libusb, usblp and udev are not exercised)."""
    from devices.printers.escpos_link import UsbLink
    from devices.printers.usb_simulator import SimulatedUsbPrinter

    sim = SimulatedPrinter()
    usb_printer = SimulatedUsbPrinter(sim, 0x0416, 0x5011)
    device = ReceiptPrinter("receipt_printer", EventBus(), lambda: UsbLink(0x0416, 0x5011, backend=usb_printer),
                            reply_timeout=0.2)
    device.poll_interval = 0.05
    device.backoff_base = 0.02
    device.open()
    try:
        assert wait_for(lambda: device.status.state == State.READY, 5), device.status
        assert device.print_receipt(sample()).ok
        assert "FT-2026-000123" in sim.text() and not sim.interpreter.unknown
        sim.paper_out = True                             # DLE EOT answered over the bulk IN endpoint
        assert wait_for(lambda: device.status.code == "paper_out", 3)
        sim.paper_out = False
        usb_printer.plugged = False                      # cable pulled
        assert wait_for(lambda: device.status.state == State.DISCONNECTED, 3)
        usb_printer.plugged = True
        assert wait_for(lambda: device.status.state == State.READY, 5), device.status
    finally:
        device.close()


def test_file_printer_through_python_escpos(tmp_path):
    capture = tmp_path / "receipt.bin"
    link = FileLink(str(capture))
    try:
        assert not link.bidirectional and link.read(1, 0.1) == b""
        link.write(b"\x1b@hello\n")
    finally:
        link.close()
    assert capture.read_bytes() == b"\x1b@hello\n"


def test_configured_profile_decides_native_or_raster_qr(make_config):
    from devices import registry

    config = make_config('[devices.receipt_printer]\ndriver = "simulated"\npaper_width_mm = 58\nprofile = "POS-5890"\n')
    device = registry.build("receipt_printer", config, EventBus())
    device.open()
    try:
        assert wait_for(lambda: device.status.state == State.READY, 5), device.status
        assert device.print_receipt(sample()).ok
        lines = device.simulator.interpreter.job(-1)
        assert any(line.raster for line in lines) and not any(line.qr for line in lines)
    finally:
        device.close()
