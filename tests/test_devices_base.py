"""The device layer: Device status/supervision and the registry never crash the app."""
from __future__ import annotations

import threading

from devices import registry
from devices.base import Device, DeviceError, State, wait_for
from common.events import EventBus


class FlakyDevice(Device):
    """Fails to open ``failures`` times, then polls until ``unplug`` is set."""

    poll_interval = 0.01
    backoff_base = 0.01
    backoff_cap = 0.05

    def __init__(self, bus, failures=0):
        super().__init__("test_device", bus)
        self.failures = failures
        self.connects = 0
        self.disconnects = 0
        self.unplug = threading.Event()

    def _connect(self):
        self.connects += 1
        if self.connects <= self.failures:
            raise DeviceError(f"port /dev/ttyTEST: attempt {self.connects} failed", "open_failed")
        self.unplug.clear()

    def _disconnect(self):
        self.disconnects += 1

    def _poll(self):
        if self.unplug.is_set():
            raise OSError(5, "Input/output error")


def test_open_failures_are_statuses_then_ready_after_backoff():
    bus = EventBus()
    statuses = []
    bus.subscribe("device.status", lambda e: statuses.append((e.data["state"], e.data["code"])))
    device = FlakyDevice(bus, failures=3)
    device.open()
    try:
        assert wait_for(lambda: device.status.state == State.READY, 3)
        assert device.connects == 4
        assert statuses[0] == ("disconnected", "open_failed") and statuses[-1] == ("ready", "")
    finally:
        device.close()
    assert device.status.state == State.DISCONNECTED and device.status.code == "closed"


def test_a_poll_failure_disconnects_with_a_reason_and_reconnects():
    device = FlakyDevice(EventBus())
    device.open()
    try:
        assert wait_for(lambda: device.status.state == State.READY, 2)
        seen = []
        device.bus.subscribe("device.status", lambda e: seen.append(e.data))
        device.unplug.set()
        assert wait_for(lambda: any(s["state"] == "disconnected" for s in seen), 2)
        lost = next(s for s in seen if s["state"] == "disconnected")
        assert "Input/output error" in lost["reason"] and lost["code"] == "lost"
        assert wait_for(lambda: device.status.state == State.READY and device.connects >= 2, 2)
        assert device.disconnects >= 1
    finally:
        device.close()


def test_status_events_come_from_the_worker_thread():
    bus = EventBus()
    threads = set()
    bus.subscribe("device.status", lambda e: threads.add(threading.current_thread().name))
    device = FlakyDevice(bus)
    device.open()
    try:
        assert wait_for(lambda: device.status.state == State.READY, 2)
    finally:
        device.close()
    assert "dev-test_device" in threads


def test_registry_unknown_or_disabled_or_broken_driver_gives_a_reasoned_placeholder(make_config, monkeypatch):
    bus = EventBus()
    config = make_config('[devices.id_reader]\ndriver = "nonesuch"\n[devices.camera]\nenabled = false\n')
    unknown = registry.build("id_reader", config, bus)
    unknown.open()
    assert unknown.status.state == State.DISCONNECTED and unknown.status.code == "bad_driver"
    assert "sam_serial" in unknown.status.reason          # names the known drivers
    disabled = registry.build("camera", config, bus)
    disabled.open()
    assert disabled.status.code == "disabled"

    monkeypatch.setitem(registry.DRIVERS["id_reader"], "nonesuch", "devices.no_such_module:create")
    broken = registry.build("id_reader", config, bus)
    broken.open()
    assert broken.status.code == "driver_failed" and "nonesuch" in broken.status.reason
