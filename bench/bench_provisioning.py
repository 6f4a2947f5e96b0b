"""Provisioning: what a technician waits for, and what guards the PIN.

* PIN check: one scrypt verification (the cost an attacker pays per guess;
  at five guesses per five minutes the lockout, not the KDF, is the limit --
  the KDF protects a copied config file).  Goal: ≥ 50 ms so an offline guess
  of a 6-digit PIN costs ≥ 14 CPU-hours, ≤ 500 ms so the technician does not
  notice.
* Detection per serial port: a SAM at the slowest baud rate it may be set to
  (9600: found last) and a port where nothing answers (worst case: every
  printer and SAM baud times out).  Goal: ≤ 5 s per port.
* Heartbeat round trip to the reference platform on loopback (the payload
  built from a real KioskCore).  Goal: ≤ 100 ms.
* Enrolment end to end (code → token, key, config written).  Goal: ≤ 1 s.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import termios
import time
import tty
from pathlib import Path

from central.admin import create_enroll_code
from central.platform_key import PlatformIdentity
from central.testing import run_server
from devices.idcard.simulator import SamSimulator
from kiosk import config as cfg
from kiosk.core import KioskCore
from kiosk.platform import PlatformClient
from provisioning import detect
from provisioning.enroll import enroll
from kiosk.heartbeat import build_payload
from kiosk.pin import hash_pin, verify_pin


class _SlowSam(SamSimulator):
    """Answers only at 9600 baud, like a reader reconfigured with 60 04."""

    def _answer(self, body):
        if termios.tcgetattr(self._slave)[5] != termios.B9600:
            return bytes(9)
        return super()._answer(body)


def _figure(name, value, unit, goal, ok, detail=""):
    return {"name": name, "value": round(value, 2), "unit": unit, "goal": goal, "ok": ok, "detail": detail}


def run(quick: bool = False) -> list[dict]:
    figures = [_pin(3 if quick else 9)]
    figures += _detection(1 if quick else 3)
    with tempfile.TemporaryDirectory() as tmp:
        figures += _platform(Path(tmp), 10 if quick else 50)
    return figures


def _pin(rounds: int) -> dict:
    stored = hash_pin("482913")
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        verify_pin("000000", stored)
        times.append(time.perf_counter() - started)
    median = statistics.median(times) * 1000
    return _figure("PIN check (scrypt n=2^15 r=8 p=1), median", median, "ms", "50..500",
                   50 <= median <= 500, f"{rounds} checks")


def _detection(rounds: int) -> list[dict]:
    sam = _SlowSam(baud=9600, paced=True)
    sam.start()
    master, slave = os.openpty()
    tty.setraw(slave)
    silent = os.ttyname(slave)
    found, nothing = [], []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            finding, = detect.probe_serial([sam.port])
            found.append(time.perf_counter() - started)
            assert finding.settings.get("baud") == 9600, finding
            started = time.perf_counter()
            detect.probe_serial([silent])
            nothing.append(time.perf_counter() - started)
    finally:
        sam.stop()
        os.close(master)
        os.close(slave)
    return [
        _figure("detect: SAM found at 9600 baud (tried last), median", statistics.median(found), "s", "<= 5",
                statistics.median(found) <= 5, f"{rounds} probes, 0.3 s reply timeout per attempt"),
        _figure("detect: silent port (every baud times out), median", statistics.median(nothing), "s", "<= 5",
                statistics.median(nothing) <= 5, f"{rounds} probes"),
    ]


def _platform(tmp: Path, beats: int) -> list[dict]:
    with run_server(tmp / "central.db", kiosk_id="bench-kiosk") as platform:
        config = cfg.parse(f'[kiosk]\nid = "bench-kiosk"\ndata_dir = "{tmp / "var"}"\n'
                           f'[platform]\nurl = "{platform.base_url}"\n[heartbeat]\nenabled = false\n')
        core = KioskCore(config)
        core.platform = PlatformClient(platform.base_url, token=platform.token)
        core.start()
        try:
            started_at = time.monotonic()
            times = []
            for _ in range(beats):
                started = time.perf_counter()
                core.platform.heartbeat(build_payload(core, started_at))
                times.append(time.perf_counter() - started)
        finally:
            core.stop()
        enrol_times = []
        fingerprint = PlatformIdentity.for_store(platform.store).fingerprint   # what the enrolment QR carries
        for n in range(3):
            code = create_enroll_code(platform.store)
            started = time.perf_counter()
            enroll(platform.base_url, code, tmp / f"kiosk-{n}.toml", expected_fingerprint=fingerprint)
            enrol_times.append(time.perf_counter() - started)
    beat = statistics.median(times) * 1000
    enrol = statistics.median(enrol_times) * 1000
    return [
        _figure("heartbeat round trip (loopback, real core), median", beat, "ms", "<= 100", beat <= 100,
                f"{beats} beats"),
        _figure("enrolment end to end, median", enrol, "ms", "<= 1000", enrol <= 1000, "3 enrolments"),
    ]
