"""帮助 through the core and the real reference platform: the resident is told staff were notified
only once the platform has the request; with the platform unreachable they are told the truth,
and the queue delivers the request later, once; staff's acknowledgement comes back; the local
bell is a command run without a shell."""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from central import help as help_requests
from kiosk.help import ACKNOWLEDGED, DELIVERED, FAILED, PENDING, TOPIC
from kiosk.samples import sample_card

ROOT = Path(__file__).resolve().parent.parent
WAIT_S = 30
RING = ("import os, pathlib, sys; pathlib.Path(sys.argv[1]).write_text("
        "os.environ['KIOSK_HELP_SCREEN'] + ' ' + os.environ['KIOSK_HELP_REQUEST_ID'] + ' ' + os.environ['KIOSK_ID'])")


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    from central.testing import run_server
    with run_server(tmp_path_factory.mktemp("help") / "central.db", kiosk_id="help-kiosk") as platform:
        yield platform


@pytest.fixture(scope="module")
def bell(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bell") / "rang.txt"


@pytest.fixture(scope="module")
def core(platform, bell, tmp_path_factory):
    from kiosk import config as cfg
    from kiosk.core import KioskCore
    from kiosk.platform import PlatformClient
    tmp = tmp_path_factory.mktemp("core")
    config = cfg.parse(f'[kiosk]\nid = "help-kiosk"\ndata_dir = "{tmp / "var"}"\n'
                       f'[platform]\nurl = "{platform.base_url}"\ntimeout_s = 2.0\n'
                       f"[queue]\nbackoff_base_s = 0.1\nbackoff_cap_s = 0.5\nmin_free_mb = 1\n"
                       f"[heartbeat]\nenabled = false\n"
                       f"[help]\nlocal_alert_command = [{sys.executable!r}, '-c', {RING!r}, {str(bell)!r}]\n"
                       f"delivery_wait_s = 2.0\npoll_interval_s = 0.5\n"
                       f'[menu]\nbundle = "{ROOT / "assets" / "menus" / "sample.bundle"}"\n', "test.toml", ROOT)
    core = KioskCore(config)
    core.platform = PlatformClient(platform.base_url, token=platform.token, timeout=2.0)
    core.start()
    yield core
    core.stop()


class States:
    """The ``help.state`` events the core publishes, in order."""

    def __init__(self, core):
        self.seen: list[dict] = []
        self.changed = threading.Condition()
        self.unsubscribe = core.bus.subscribe(TOPIC, self._on)

    def _on(self, event) -> None:
        with self.changed:
            self.seen.append(dict(event.data))
            self.changed.notify_all()

    def wait_for(self, request_id: str, state: str, timeout: float = WAIT_S) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: {"request_id": request_id, "state": state} in self.seen, timeout), \
                f"no {state} for {request_id}: {self.seen}"

    def of(self, request_id: str) -> list[str]:
        return [s["state"] for s in self.seen if s["request_id"] == request_id]


@pytest.fixture
def states(core):
    watched = States(core)
    yield watched
    watched.unsubscribe()
    core.end_help()


def test_delivered_then_staff_acknowledge_and_the_kiosk_hears_it(core, platform, states, bell):
    core.begin_session()
    core.identify(sample_card())  # a resident with a card on the reader: nothing of it may travel
    try:
        started = time.monotonic()
        future = core.ask_for_help("form")
        assert time.monotonic() - started < 0.2  # never blocks the caller (the UI thread)
        request_id, state = future.result(WAIT_S)
    finally:
        core.end_session()
    assert state == DELIVERED
    stored = help_requests.get(platform.store, request_id)
    assert (stored.kiosk_id, stored.screen, stored.acknowledged_at) == ("help-kiosk", "form", None)
    card = sample_card()
    row = platform.store.one("SELECT * FROM help_requests WHERE request_id = ?", (request_id,))
    assert not any(card.name in str(v) or card.id_number in str(v) for v in row.values())
    assert states.of(request_id) == [DELIVERED]
    # the local bell rang with the screen and the request, nothing else
    deadline = time.monotonic() + 10
    while not bell.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bell.read_text() == f"form {request_id} help-kiosk"

    help_requests.acknowledge(platform.store, request_id, "李工", via="test")
    states.wait_for(request_id, ACKNOWLEDGED, timeout=10)
    assert states.of(request_id) == [DELIVERED, ACKNOWLEDGED]


def test_platform_down_the_truth_then_delivered_once_through_the_queue(core, platform, states):
    before = platform.count("help_requests")
    platform.set_faults(drop_rate=1.0)  # every connection cut: the network is down
    try:
        request_id, state = core.ask_for_help("home").result(WAIT_S)
        assert state == PENDING  # not "已通知工作人员": the screen gives the hotline and the desk
        assert platform.count("help_requests") == before
        time.sleep(1.0)
        assert states.of(request_id) == [PENDING]
        assert core.outbox.get(request_id).state in ("pending", "sending")
        # the answer lost after the platform stored the request: the retry is the same request
        platform.set_faults(drop_after_rate=1.0)
        deadline = time.monotonic() + WAIT_S
        while platform.count("help_requests") == before and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # a few more retries, each answered and lost
        assert states.of(request_id) == [PENDING]
    finally:
        platform.set_faults()
    states.wait_for(request_id, DELIVERED)  # the panel, still open, now says staff were notified
    assert platform.count("help_requests") == before + 1  # exactly once
    assert core.outbox.get(request_id).state == "done"
    help_requests.acknowledge(platform.store, request_id, "王", via="test")
    states.wait_for(request_id, ACKNOWLEDGED, timeout=10)


def test_closed_panel_stops_listening_but_the_request_still_arrives(core, platform, states):
    platform.set_faults(drop_rate=1.0)
    try:
        request_id, state = core.ask_for_help("guide").result(WAIT_S)
        assert state == PENDING
        core.end_help()  # the resident closed the panel
    finally:
        platform.set_faults()
    deadline = time.monotonic() + WAIT_S
    while help_requests.get(platform.store, request_id) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert help_requests.get(platform.store, request_id) is not None
    time.sleep(0.5)
    assert states.of(request_id) == [PENDING]  # no news for a panel that is gone


def test_a_request_the_queue_cannot_store_is_never_claimed(core, platform, states, monkeypatch):
    from offline_queue.outbox import QueueFullError

    def full(*args, **kwargs):
        raise QueueFullError("disk full")
    monkeypatch.setattr(core.sender, "enqueue", full)
    request_id, state = core.ask_for_help("home").result(WAIT_S)
    assert state == FAILED and states.of(request_id) == [FAILED]
    assert help_requests.get(platform.store, request_id) is None


def test_a_hanging_bell_is_killed_and_never_holds_up_the_request(core, tmp_path, monkeypatch):
    settings = core.config.help.model_copy(update={"local_alert_command": [sys.executable, "-c",
                                                                           "import time; time.sleep(30)"],
                                                   "local_alert_timeout_s": 0.3})
    monkeypatch.setattr(type(core.help_desk), "settings", property(lambda self: settings))
    started = time.monotonic()
    ring = core.help_desk.ring_local_alert("home", "r")
    assert time.monotonic() - started < 0.2
    assert ring.result(10) is None  # killed at the timeout
    missing = settings.model_copy(update={"local_alert_command": [str(tmp_path / "no-such-bell")]})
    monkeypatch.setattr(type(core.help_desk), "settings", property(lambda self: missing))
    assert core.help_desk.ring_local_alert("home", "r").result(10) is None
    nothing = settings.model_copy(update={"local_alert_command": []})
    monkeypatch.setattr(type(core.help_desk), "settings", property(lambda self: nothing))
    assert core.help_desk.ring_local_alert("home", "r") is None
