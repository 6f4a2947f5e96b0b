"""The Device adapter over the simulator: events, status, unplug, faults, photo plug-in."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import threading

import pytest

from devices import registry
from devices.base import State, wait_for
from common.events import EventBus
from devices.idcard.adapter import IdCardReader, create_simulated
from devices.idcard.card import load_card_file
from devices.idcard.simulator import SamSimulator
from common.paths import PROJECT_ROOT

CARD_DIR = PROJECT_ROOT / "assets" / "cards"


class Recorder:
    def __init__(self, bus: EventBus):
        self.events = []
        self.threads = set()
        self._lock = threading.Lock()
        bus.subscribe("idcard.", self._record)

    def _record(self, event):
        with self._lock:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)

    def topics(self):
        with self._lock:
            return [e.topic for e in self.events]

    def wait(self, topic, count=1, timeout=5.0):
        assert wait_for(lambda: self.topics().count(topic) >= count, timeout), f"{topic} x{count} not seen: {self.topics()}"
        with self._lock:
            return [e for e in self.events if e.topic == topic][count - 1]


def _fast(device):
    device.poll_interval = 0.05
    device.backoff_base = 0.05
    device.backoff_cap = 0.3
    return device


@pytest.fixture
def bus():
    return EventBus()


@pytest.fixture
def device(make_config, bus):
    config = make_config("[devices.id_reader]\ndriver = \"simulated\"\n")
    dev = _fast(registry.build("id_reader", config, bus))
    yield dev
    dev.close()


def test_registry_builds_the_simulated_reader_with_the_elderly_sample(device, bus):
    events = Recorder(bus)
    device.open()
    event = events.wait("idcard.read")
    assert event.data["card"] == load_card_file(CARD_DIR / "resident_elderly.json")
    assert event.data["photo"] is None                 # no decoder configured
    assert event.source == "id_reader"
    assert events.threads == {"dev-id_reader"}         # published from the worker thread
    assert wait_for(lambda: device.status.state == State.READY, 2)


def test_a_card_left_on_the_reader_is_read_once(device, bus):
    events = Recorder(bus)
    device.open()
    events.wait("idcard.read")
    finds = device.simulator.commands.count("find")
    assert wait_for(lambda: device.simulator.commands.count("find") >= finds + 5, 3)
    assert device.simulator.commands.count("read") == 1
    assert events.topics() == ["idcard.read"]


def test_removed_then_next_card_is_read(device, bus):
    events = Recorder(bus)
    device.open()
    events.wait("idcard.read")
    device.simulator.remove_card()
    events.wait("idcard.removed")
    device.simulator.place_card(CARD_DIR / "foreign_2023.json")
    assert events.wait("idcard.read", 2).data["card"].card_type == "foreign_2023"


def test_unplug_disconnects_with_a_reason_and_replug_recovers(device, bus):
    events = Recorder(bus)
    device.open()
    events.wait("idcard.read")
    device.simulator.unplug()
    assert wait_for(lambda: device.status.state == State.DISCONNECTED, 3)
    assert "ttyIDCARD" in device.status.reason
    device.simulator.replug()
    assert wait_for(lambda: device.status.state == State.READY, 5), device.status
    events.wait("idcard.read", 2)                      # the card still on the reader is read after reconnecting


def test_sam_self_test_failure_is_a_fault_until_it_passes(device, bus):
    device.simulator.sam_fault = True
    device.open()
    assert wait_for(lambda: device.status.state == State.FAULT, 3)
    assert device.status.code == "sam_self_test" and "self-test" in device.status.reason
    assert "ttyIDCARD" in device.status.reason
    device.simulator.sam_fault = False
    assert wait_for(lambda: device.status.state == State.READY, 3)


def test_unauthorised_sam_is_a_fault_with_its_code(device, bus):
    statuses = []
    bus.subscribe("device.status", lambda e: statuses.append(e.data))
    device.simulator.inject_status("sam_status", 0x66)
    device.open()
    assert wait_for(lambda: device.status.state == State.READY, 3)    # the next status check passes
    fault = statuses[0]
    assert (fault["state"], fault["code"]) == ("fault", "sam_not_authorised") and "not authorised" in fault["reason"]


def test_silent_sam_is_disconnected(device, bus):
    device.simulator.silent = True
    device.open()
    assert wait_for(lambda: device.status.state == State.DISCONNECTED and device.status.code == "no_answer", 6)


@pytest.mark.parametrize("setup, code", [
    (lambda s: s.place_card({**load_card_file(CARD_DIR / "resident_elderly.json").to_public_dict(),
                             "id_number": "440304194905120027"}), "bad_check_digit"),
    (lambda s: s.place_card(CARD_DIR / "resident_expired.json"), "expired"),
    (lambda s: s.inject_status("read", 0x40), "unsupported_card"),
    (lambda s: s.inject_status("read", 0x41, times=3), "read_failed"),
])
def test_card_errors_are_published_with_a_code(device, bus, setup, code):
    events = Recorder(bus)
    setup(device.simulator)
    device.open()
    event = events.wait("idcard.error")
    assert event.data["code"] == code and event.data["message"]
    assert "idcard.read" not in events.topics()


def test_garbled_read_reply_is_a_protocol_error_event(device, bus):
    events = Recorder(bus)
    original = device.simulator._answer

    def damage_read(body):   # only the base-info reply is damaged; find and select answer normally
        if body[:2] == b"\x30\x01":
            device.simulator.corrupt_next("checksum")
        return original(body)
    device.simulator._answer = damage_read
    device.open()
    assert events.wait("idcard.error").data["code"] == "protocol"


def test_expiry_uses_the_injected_date():
    bus = EventBus()
    events = Recorder(bus)
    simulator = SamSimulator(CARD_DIR / "resident_rare_yan.json", paced=False)
    simulator.start()
    device = _fast(IdCardReader("id_reader", bus, simulator.port, today=lambda: dt.date(2036, 7, 2)))
    try:
        device.open()
        assert events.wait("idcard.error").data["code"] == "expired"
    finally:
        device.close()
        simulator.stop()


def test_sam_serial_without_a_port_is_unavailable_with_a_reason(make_config, bus):
    config = make_config("[devices.id_reader]\ndriver = \"sam_serial\"\n")
    device = registry.build("id_reader", config, bus)
    device.open()
    assert device.status.state == State.DISCONNECTED and "port" in device.status.reason


def test_sam_serial_on_a_missing_port_keeps_retrying_with_a_reason(make_config, bus, tmp_path):
    config = make_config(f"[devices.id_reader]\ndriver = \"sam_serial\"\nport = \"{tmp_path}/ttyUSB9\"\n")
    device = _fast(registry.build("id_reader", config, bus))
    device.open()
    try:
        assert wait_for(lambda: "ttyUSB9" in device.status.reason, 3)
        assert device.status.state == State.DISCONNECTED
    finally:
        device.close()


FAKE_DECODER = r"""
#include <string.h>
/* Stands in for a vendor libwlt2bmp: writes pixel rows only (no BMP header). */
int unpack(char *wlt, char *bmp, int save) {
    for (int i = 0; i < 308 * 126; i++) bmp[i] = wlt[i % 1024];
    return save == 0 ? 1 : -1;
}
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler to build the stand-in decoder")
def test_photo_plugin_is_loaded_with_ctypes_and_used(tmp_path, make_config, bus):
    source = tmp_path / "fakewlt.c"
    source.write_text(FAKE_DECODER)
    library = tmp_path / "libfakewlt.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    config = make_config(f"[devices.id_reader]\ndriver = \"simulated\"\nphoto_decoder = \"{library}\"\n")
    device = _fast(create_simulated("id_reader", config.devices.id_reader, config, bus))
    events = Recorder(bus)
    try:
        device.open()
        event = events.wait("idcard.read")
        photo = event.data["photo"]
        assert photo[:2] == b"BM" and len(photo) == 38862
        assert photo[54:54 + 1024] == event.data["card"].photo_wlt
        assert device.status.state == State.READY
    finally:
        device.close()


def test_missing_photo_plugin_is_a_warning_not_a_failure(make_config, bus, tmp_path):
    config = make_config(f"[devices.id_reader]\ndriver = \"simulated\"\nphoto_decoder = \"{tmp_path}/nope.so\"\n")
    device = _fast(create_simulated("id_reader", config.devices.id_reader, config, bus))
    events = Recorder(bus)
    try:
        device.open()
        assert events.wait("idcard.read").data["photo"] is None
        assert wait_for(lambda: device.status.state == State.WARNING, 2)
        assert device.status.code == "photo_decoder" and "nope.so" in device.status.reason
    finally:
        device.close()


def test_sam_id_is_read_on_connect_for_the_self_test(device):
    assert device.sam_id() == ""
    device.open()
    assert wait_for(lambda: device.status.state == State.READY, 5)
    assert device.sam_id() == "05.01-03943194-0000001234-0000005678"
    assert device.simulator.commands.count("sam_id") == 1
