"""The watchdog: sd_notify datagrams, and a frozen Kivy main loop gets restarted.

``Supervisor`` stands in for systemd (no systemd runs in the test container):
it owns the notify socket, reads the sender's pid from SCM_CREDENTIALS like
systemd does, and applies Type=notify + WatchdogSec + Restart=always.
"""
from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from kiosk.watchdog import Watchdog

ROOT = Path(__file__).resolve().parent.parent


def _notify_socket():
    name = f"@kiosk-test-{uuid.uuid4().hex[:12]}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind("\0" + name[1:])
    return name, sock


def _receive(sock: socket.socket, timeout: float):
    """One notification as (sender pid, message) or None on timeout."""
    sock.settimeout(max(timeout, 0.001))
    try:
        data, ancdata, _flags, _addr = sock.recvmsg(4096, socket.CMSG_SPACE(struct.calcsize("iII")))
    except socket.timeout:
        return None
    pid = None
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    return pid, data.decode()


def test_no_notify_socket_means_no_op():
    wd = Watchdog.from_env({})
    assert not wd.enabled and wd.kick_interval is None
    assert wd.ready() is False and wd.kick() is False
    from screens.bootstrap import kick_from_kivy_clock
    assert kick_from_kivy_clock(wd) is None


def test_messages_arrive_and_interval_is_half_the_timeout():
    name, sock = _notify_socket()
    try:
        wd = Watchdog.from_env({"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "3000000"})
        assert wd.kick_interval == pytest.approx(1.5)
        assert wd.ready("serving") and wd.kick() and wd.status("paper low")
        got = [_receive(sock, 2.0) for _ in range(3)]
        assert [m for _pid, m in got] == ["READY=1\nSTATUS=serving", "WATCHDOG=1", "STATUS=paper low"]
        assert all(pid == os.getpid() for pid, _m in got)
    finally:
        sock.close()


def test_full_receive_queue_never_blocks_the_caller(caplog):
    name, sock = _notify_socket()           # nobody reads it: the queue fills up
    try:
        wd = Watchdog(name, 1_000_000)
        started = time.monotonic()
        sent = [wd.kick() for _ in range(2000)]
        assert time.monotonic() - started < 2.0
        assert sent[0] and not sent[-1] and caplog.text.count("sd_notify WATCHDOG failed") == 1
    finally:
        sock.close()


def test_socket_gone_is_logged_not_raised(caplog):
    wd = Watchdog("@kiosk-test-nobody-listens-" + uuid.uuid4().hex, 1_000_000)
    assert wd.kick() is False
    assert "sd_notify WATCHDOG failed" in caplog.text


APP = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    os.environ["KIVY_NO_ARGS"] = "1"
    from kivy.config import Config
    Config.set("graphics", "width", "320"); Config.set("graphics", "height", "200")
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.uix.label import Label
    from kiosk.watchdog import Watchdog
    from screens.bootstrap import kick_from_kivy_clock

    FREEZE = sys.argv[1]

    class WatchedApp(App):
        def build(self):
            return Label(text="watched")

        def on_start(self):
            watchdog = Watchdog.from_env()
            watchdog.ready()
            kick_from_kivy_clock(watchdog)
            Clock.schedule_interval(self.freeze_on_request, 0.05)

        def freeze_on_request(self, _dt):
            # Test hook: block the main loop the way a hung callback would.
            if os.path.exists(FREEZE):
                os.remove(FREEZE)
                time.sleep(3600)

    WatchedApp().run()
""")


class Supervisor:
    """Type=notify, WatchdogSec=, Restart=always -- the parts of systemd under test."""

    def __init__(self, argv, sock, socket_name, watchdog_sec, workdir: Path, start_timeout=60.0):
        self.argv, self.sock, self.watchdog_sec, self.start_timeout = argv, sock, watchdog_sec, start_timeout
        self.output = workdir / "child.log"
        self.env = {**os.environ, "KIVY_HOME": str(workdir / "kivy-home"), "NOTIFY_SOCKET": socket_name,
                    "WATCHDOG_USEC": str(int(watchdog_sec * 1e6))}
        self.log: list[tuple[float, int | None, str]] = []   # (time, pid, message or "KILLED"/"STARTED")
        self.child: subprocess.Popen | None = None

    def start(self):
        with open(self.output, "ab") as output:
            self.child = subprocess.Popen(self.argv, env=self.env, stdout=output, stderr=output)
        self.log.append((time.monotonic(), self.child.pid, "STARTED"))
        self.deadline = time.monotonic() + self.start_timeout

    def step(self, budget: float):
        """Handle notifications for up to ``budget`` seconds; restart on a missed watchdog."""
        end = time.monotonic() + budget
        while time.monotonic() < end:
            got = _receive(self.sock, min(end, self.deadline) - time.monotonic())
            now = time.monotonic()
            if got:
                pid, message = got
                self.log.append((now, pid, message))
                if pid == self.child.pid and ("WATCHDOG=1" in message or "READY=1" in message):
                    self.deadline = now + self.watchdog_sec
            if now >= self.deadline:
                self.child.send_signal(signal.SIGABRT)   # what systemd sends on a watchdog timeout
                try:
                    self.child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.child.kill()
                    self.child.wait()
                self.log.append((now, self.child.pid, "KILLED"))
                self.start()

    def messages(self, pid, text):
        return [t for t, p, m in self.log if p == pid and text in m]

    def stop(self):
        if self.child and self.child.poll() is None:
            self.child.kill()
            self.child.wait()


@pytest.mark.ui
def test_frozen_main_loop_stops_kicks_and_is_restarted(tmp_path):
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs a display: run under xvfb-run (make test does)")
    script = tmp_path / "watched_app.py"
    script.write_text(APP.format(root=str(ROOT)))
    freeze = tmp_path / "freeze"
    name, sock = _notify_socket()
    supervisor = Supervisor([sys.executable, str(script), str(freeze)], sock, name, watchdog_sec=2.0,
                            workdir=tmp_path)
    try:
        supervisor.start()
        first = supervisor.child.pid
        deadline = time.monotonic() + 60
        while len(supervisor.messages(first, "WATCHDOG=1")) < 3:
            assert time.monotonic() < deadline, f"no kicks: {supervisor.output.read_text()[-2000:]}"
            supervisor.step(0.2)
        assert supervisor.messages(first, "READY=1"), "READY=1 must come before the kicks"

        freeze.touch()
        frozen_at = time.monotonic()
        while supervisor.child.pid == first:
            assert time.monotonic() < frozen_at + 30, f"frozen app was not restarted: {supervisor.log}"
            supervisor.step(0.2)
        killed_at = supervisor.messages(first, "KILLED")[0]
        last_kick = supervisor.messages(first, "WATCHDOG=1")[-1]
        # Kicks stopped within one kick interval of the freeze, and the kill came a full timeout later.
        assert last_kick < frozen_at + 1.5
        assert killed_at - last_kick >= 2.0

        second = supervisor.child.pid
        deadline = time.monotonic() + 60
        while not supervisor.messages(second, "WATCHDOG=1"):
            assert time.monotonic() < deadline, f"restarted app never kicked: {supervisor.log}"
            supervisor.step(0.2)
        assert supervisor.messages(second, "READY=1")
    finally:
        supervisor.stop()
        sock.close()
