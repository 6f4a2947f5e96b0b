"""Issue 11.6: the platform as 4 uvicorn worker processes on the real PostgreSQL cluster.  Rate
limits, presence grants and idempotency hold across workers: they live in the database."""
from __future__ import annotations

import base64
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.security.conftest import RESIDENT_A, Kiosk, face_jpeg
from tests.test_central_cli import ROOT, central, wait_for

WORKERS = 4


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


class Fresh(Kiosk):
    """Every call on a new connection, so the kernel hands it to any of the workers."""

    def call(self, method, path, json=None, grant=None, **headers):
        headers = {"Authorization": f"Bearer {self.token}", "Connection": "close", **headers}
        if grant:
            headers["X-Presence-Grant"] = grant
        return requests.request(method, self.base_url + path, json=json, headers=headers, timeout=30)


def worker_processes(pid: int) -> list[int]:
    """The server's worker processes (multiprocessing's spawned children; not its resource tracker)."""
    children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def answers(base_url: str) -> bool:
    try:
        return requests.get(base_url + "/healthz", timeout=5).ok
    except requests.ConnectionError:
        return False


@pytest.fixture
def four_workers(postgres_cluster, tmp_path):
    url = postgres_cluster.create_schema()
    db = ["--db", url, "--pepper-file", str(tmp_path / "central.pepper")]

    class Db:
        def cli_args(self):
            return db
    tokens = {k: central(Db(), "kiosk-token", k).stdout.strip() for k in ("kiosk-a", "kiosk-b")}
    port_file = tmp_path / "port"
    server = subprocess.Popen([sys.executable, "-m", "central", *db, "serve", "--workers", str(WORKERS),
                               "--port", "0", "--port-file", str(port_file)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base_url = f"http://127.0.0.1:{int(wait_for(port_file, 60))}"
        deadline = time.monotonic() + 60
        while len(worker_processes(server.pid)) < WORKERS or not answers(base_url):  # all started
            assert time.monotonic() < deadline and server.poll() is None, server.stderr.read()
            time.sleep(0.1)
        workers = worker_processes(server.pid)
        yield {k: Fresh(base_url, t, k) for k, t in tokens.items()}, workers
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        postgres_cluster.drop(url)


def test_four_workers_share_limits_grants_and_idempotency(four_workers):
    kiosks, workers = four_workers
    assert len(workers) == WORKERS
    kiosk_a, kiosk_b = kiosks["kiosk-a"], kiosks["kiosk-b"]
    before = {pid: cpu_ticks(pid) for pid in workers}

    # idempotency: one key sent by 8 threads at once, each on its own connection -> one application
    key, answers = str(uuid.uuid4()), []
    body = {"service_id": "residence-permit-endorsement", "applicant": {"name": "王秀英", "id_number": RESIDENT_A},
            "form": {}, "materials": [], "delivery": {}, "submitted_at": None, "offline": False}
    threads = [threading.Thread(target=lambda: answers.append(
        kiosk_a.call("POST", "/v1/applications", body, **{"Idempotency-Key": key}))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    created = [a.json()["application_no"] for a in answers if a.status_code in (200, 201)]
    assert created and len(set(created)) == 1 and all(a.status_code in (200, 201, 409) for a in answers)
    pickup = next(a.json() for a in answers if a.status_code in (200, 201))["pickup_code"]

    # a grant issued by one worker is honoured by every other, and only for the kiosk it was issued to
    verified = kiosk_b.call("POST", "/v1/identity/verify", {
        "card": {"id_number": RESIDENT_A}, "photo_wlt_b64": base64.b64encode(bytes(1024)).decode(),
        "face_jpeg_b64": base64.b64encode(face_jpeg()).decode()}).json()
    grant = verified["presence_grant"]
    reads = [kiosk_b.call("POST", "/v1/documents/query", {}, grant=grant).status_code for _ in range(24)]
    assert reads == [200] * 24
    assert kiosk_a.call("POST", "/v1/documents/query", {}, grant=grant).status_code == 403

    # the rate limit counts failures from all workers together: locked after 10, not 4 x 10
    statuses = [kiosk_b.call("POST", "/v1/presence/pickup",
                             {"pickup_code": f"{n:08d}", "id_number": f"4403041950010100{n:02d}"}).status_code
                for n in range(30)]
    assert statuses[:10] == [404] * 10 and set(statuses[10:]) == {429}
    real = kiosk_b.call("POST", "/v1/presence/pickup", {"pickup_code": pickup, "id_number": RESIDENT_A})
    assert real.status_code == 429

    busy = [pid for pid in workers if cpu_ticks(pid) > before[pid]]
    assert len(busy) >= 2, "the requests were not spread over several worker processes"
