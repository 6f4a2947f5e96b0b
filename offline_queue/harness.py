"""Crash harness: the real outbox and sender, killed with SIGKILL at random points.

One driver process imports everything once, then forks short-lived kiosk
processes.  Each child opens the outbox (running its crash recovery), starts
the real :class:`~offline_queue.sender.Sender` against a real platform URL,
enqueues a few applications (each with a scan attachment, the first followed
by a rating that depends on it), every fourth child also a supplement (边办边补: a scan handed in
for an application that owes it), and reports every id *after* ``enqueue`` returned -- the moment
the kiosk promises the resident it is saved.  The driver SIGKILLs the child after a random delay, so kills
land before, during and after enqueues, sends, acknowledgements and purges.
Between children the driver rotates the platform's injected faults (latency,
500s, 429 and 503 with Retry-After in seconds and as an HTTP date, cut
connections before and after the platform commits) through the faults file.
Finally the driver drains the queue in-process and writes a report;
:func:`verify` then checks the platform's database: every promised
application, rating and supplement exactly once, each rating attached to its own
application, nothing unknown, nothing left in the queue.

The applications the supplements are for are made first, over the real protocol: applications
that skip ``harness-proof``, then the resident proves presence (人证核验 with a simulated face) and
我的办件 shows them at the harness kiosk -- which is what lets that kiosk hand supplements in.

    python -m offline_queue.harness --data-dir D --url URL --token=T \\
        --faults-file F --kills 200 --report report.json
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from central.storage import Store
from common.files import write_atomic
from kiosk.platform import PlatformClient
from offline_queue.crypto import Sealer, load_or_create_key
from offline_queue.outbox import Outbox
from offline_queue.sender import Sender

ROOT = Path(__file__).resolve().parent.parent
# Fault profiles the driver cycles through, one per child (central.faults fields).
FAULT_PROFILES = [
    {"latency_s": 0.01},
    {"error_rate": 0.3, "error_status": 500},
    {"error_rate": 0.3, "error_status": 429, "retry_after": 0.05},
    {"error_rate": 0.3, "error_status": 503, "retry_after": 1, "retry_after_date": True},
    {"drop_rate": 0.3},
    {"drop_after_rate": 0.4, "latency_s": 0.005},
    {"processing_delay_s": 0.02, "drop_after_rate": 0.2},
]
DRAIN_FAULTS = {"drop_after_rate": 0.1, "error_rate": 0.1, "error_status": 500}
SCAN = b"\xff\xd8\xff\xe0harness-scan" + bytes(range(256))


class PlatformProcess:
    """``central serve`` in its own process on a free loopback port, with a
    faults file and a fresh database; ``token`` belongs to ``kiosk_id``.
    Its log goes to a file: an unread pipe would fill and stall the server."""

    def __init__(self, workdir: Path, kiosk_id: str = "harness-kiosk"):
        workdir.mkdir(parents=True, exist_ok=True)
        self.db, self.faults = workdir / "central.db", workdir / "faults.json"
        port_file = workdir / "port"
        self.faults.write_text("{}")
        central = [sys.executable, "-m", "central", "--db", str(self.db)]
        self.token = subprocess.run(central + ["kiosk-token", kiosk_id], cwd=ROOT, check=True,
                                    capture_output=True, text=True).stdout.strip()
        self._log = (workdir / "central.log").open("wb")
        self.process = subprocess.Popen(central + ["serve", "--port", "0", "--port-file", str(port_file),
                                                   "--faults-file", str(self.faults)],
                                        cwd=ROOT, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"central serve did not start; see {workdir / 'central.log'}")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text()}"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self._log.close()

    def __enter__(self) -> "PlatformProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _outbox(data_dir: Path) -> Outbox:
    key = load_or_create_key(data_dir / "queue.key", create=True)
    return Outbox(data_dir / "outbox.sqlite3", Sealer(key), min_free_mb=0)


RESIDENT = "11010519491231002X"


def _payload(item_id: str) -> dict:
    return {"service_id": "harness-service",
            "applicant": {"name": "测试居民", "id_number": RESIDENT, "card_type": ""},
            "form": {"harness_ref": item_id}, "materials": [], "delivery": {"method": "pickup"},
            "submitted_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "offline": False}


SUPPLEMENT_EVERY = 4          # every fourth child also hands in a supplement
OWED = "harness-proof"        # the material the supplement applications skipped
LIST_CHUNK = 40               # 我的办件 lists the 50 newest: release the owed ones in chunks


def owing_applications(url: str, token: str, count: int) -> list[str]:
    """``count`` applications owing ``OWED``, shown to this kiosk under the resident's grant."""
    import cv2
    from devices.camera_scenes import FaceScene
    client = PlatformClient(url, token=token, timeout=10.0)
    face = cv2.imencode(".jpg", FaceScene().render(1280, 720))[1].tobytes()
    numbers: list[str] = []
    while len(numbers) < count:
        chunk = []
        for _ in range(min(LIST_CHUNK, count - len(numbers))):
            payload = dict(_payload(str(uuid.uuid4())), skipped=[OWED])
            payload["form"] = {}   # not one of the harness's own (verify finds those by harness_ref)
            chunk.append(client.create_application(payload, str(uuid.uuid4()))["application_no"])
        answer = client.verify_identity({"id_number": RESIDENT, "name": "测试居民"}, bytes(1024), face)
        listed = client.resident_applications(answer["presence_grant"])
        owing = {a["application_no"] for a in listed if a.get("owed")}
        assert set(chunk) <= owing, "the platform did not list the owed applications"
        numbers += chunk
    client.close()
    return numbers


def _child(data_dir: Path, url: str, token: str, items: int, promise_fd: int,
           supplement: tuple[str, str] | None = None) -> None:
    """Runs until killed: enqueue ``items`` applications (the first with a
    rating that depends on it) and the ``supplement`` (item id, application number), keep sending."""
    outbox = _outbox(data_dir)
    sender = Sender(outbox, PlatformClient(url, token=token, timeout=2.0),
                    backoff_base_s=0.005, backoff_cap_s=0.05)
    sender.start()
    for n in range(items):
        item_id = str(uuid.uuid4())
        sender.enqueue("application", _payload(item_id), [("id-card", SCAN)], item_id=item_id)
        os.write(promise_fd, f"{item_id}\n".encode())
        if n == 0:  # the resident rates the first one at once: the rating waits for its number
            rating_id = str(uuid.uuid4())
            sender.enqueue("rating", {"level": 5, "comment": f"harness:{rating_id}", "application_key": item_id},
                           depends_on=item_id, item_id=rating_id)
            os.write(promise_fd, f"{rating_id}\n".encode())
        if n == 0 and supplement is not None:   # 补交 for an application that owes it
            supplement_id, number = supplement
            sender.enqueue("supplement", {"application_no": number, "materials": []}, [(OWED, SCAN)],
                           item_id=supplement_id)
            os.write(promise_fd, f"{supplement_id}\n".encode())
    while True:
        time.sleep(1)


def _set_faults(path: Path | None, profile: dict, seed: int) -> None:
    if path is None:
        return
    write_atomic(path, json.dumps({**profile, "seed": seed}))


def run(data_dir: Path, url: str, token: str, kills: int, seed: int = 1, max_kill_ms: float = 80.0,
        items_per_child: int = 2, faults_file: Path | None = None, drain_timeout_s: float = 60.0) -> dict:
    """Fork ``kills`` children, kill each at a random moment, then drain; return the report."""
    data_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    promised: list[str] = []
    _set_faults(faults_file, {}, seed)
    targets = owing_applications(url, token, (kills + SUPPLEMENT_EVERY - 1) // SUPPLEMENT_EVERY)
    supplements: dict[str, str] = {}   # supplement item id -> the application it is for
    started = time.monotonic()
    for n in range(kills):
        _set_faults(faults_file, FAULT_PROFILES[n % len(FAULT_PROFILES)], seed + n)
        supplement = None
        if n % SUPPLEMENT_EVERY == 0 and targets:
            supplement = (str(uuid.uuid4()), targets.pop())
            supplements[supplement[0]] = supplement[1]
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the kiosk process
            os.close(read_fd)
            try:
                _child(data_dir, url, token, items_per_child, write_fd, supplement)
            finally:
                os._exit(0)
        os.close(write_fd)
        time.sleep(rng.uniform(0.0, max_kill_ms / 1000.0))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        with os.fdopen(read_fd, "rb") as pipe:
            promised.extend(line.decode() for line in pipe.read().split(b"\n") if len(line) == 36)
    killed_s = time.monotonic() - started
    _set_faults(faults_file, DRAIN_FAULTS, seed)
    outbox = _outbox(data_dir)
    sender = Sender(outbox, PlatformClient(url, token=token, timeout=2.0),
                    backoff_base_s=0.005, backoff_cap_s=0.05)
    sender.start()
    deadline = time.monotonic() + drain_timeout_s
    while outbox.stats()["depth"] and time.monotonic() < deadline:
        time.sleep(0.05)
    sender.stop()
    _set_faults(faults_file, {}, seed)
    items = {i.id: {"kind": i.kind, "state": i.state, "depends_on": i.depends_on,
                    "application_no": i.application_no, "attempts": i.attempts, "last_error": i.last_error}
             for i in outbox.items(("pending", "sending", "done", "dead"), limit=10**9)}
    stats = outbox.stats(include_done=True)
    outbox.close()
    return {"kills": kills, "promised": promised, "items": items, "stats": stats, "supplements": supplements,
            "kill_phase_s": round(killed_s, 2), "drain_s": round(time.monotonic() - started - killed_s, 2)}


def verify(report: dict, platform_db: Path) -> dict:
    """Compare the report with the platform's database; return the findings.

    Applications are found by ``form.harness_ref``, ratings by their comment
    (``harness:<item id>``), supplements by the scans of ``OWED`` recorded for the application
    each was for (one application per supplement).  ``lost``: promised (or stored) but not on the
    platform; ``duplicated``: there more than once; ``unknown``: there but
    never in this outbox (the platform database must be this run's alone);
    ``mismatched``: the kiosk's tombstone names another application number
    than the platform holds; ``misattached``: a rating on the platform that
    points at another application than the one it waited for.
    """
    store = Store(platform_db)  # the platform's own store: forms and comments are sealed at rest
    try:
        applications = [store.opened("applications", row)
                        for row in store.all("SELECT application_no, form FROM applications")]
        ratings = [store.opened("ratings", row)
                   for row in store.all("SELECT rating_id, comment, application_no FROM ratings")]
        handed_in = [r["application_no"] for r in store.all("SELECT application_no FROM materials WHERE kind = ?",
                                                            (OWED,))]
    finally:
        store.close()
    rows = [(a["form"]["harness_ref"], a["application_no"]) for a in applications if "harness_ref" in a["form"]]
    rows += [(r["comment"][8:], r["application_no"]) for r in ratings if r["comment"].startswith("harness:")]
    supplement_of = {number: ref for ref, number in report.get("supplements", {}).items()}
    rows += [(supplement_of.get(number, f"unknown supplement for {number}"), number) for number in handed_in]
    on_platform: dict[str, list[str]] = {}
    for ref, number in rows:
        on_platform.setdefault(ref, []).append(number)
    items = report["items"]
    expected = set(report["promised"]) | set(items)
    ratings = {ref: item for ref, item in items.items() if item["kind"] == "rating"}
    supplements = [ref for ref, item in items.items() if item["kind"] == "supplement"]
    return {
        "promised": len(report["promised"]),
        "stored": len(items),
        "ratings": len(ratings),
        "supplements": len(supplements),
        "on_platform": len(rows),
        "lost": sorted(ref for ref in expected if ref not in on_platform),
        "duplicated": sorted(ref for ref, numbers in on_platform.items() if len(numbers) > 1),
        "unknown": sorted(ref for ref in on_platform if ref not in items),
        "not_in_outbox": sorted(ref for ref in report["promised"] if ref not in items),
        "mismatched": sorted(ref for ref, item in items.items()
                             if ref in on_platform and item["application_no"] not in on_platform[ref]),
        "misattached": sorted(ref for ref, item in ratings.items()
                              if on_platform.get(ref) != [items[item["depends_on"]]["application_no"]]),
        "retried": sum(1 for item in items.values() if item["attempts"] > 1),
        "left_in_queue": report["stats"]["depth"],
        "dead": report["stats"]["dead"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-kill-ms", type=float, default=80.0)
    parser.add_argument("--items-per-child", type=int, default=2)
    parser.add_argument("--faults-file", type=Path)
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args(argv)
    report = run(args.data_dir, args.url, args.token, args.kills, args.seed, args.max_kill_ms,
                 args.items_per_child, args.faults_file, args.drain_timeout)
    args.report.write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
