"""Reference platform intake rate: ``central serve`` as its own process on loopback.

* new applications/s from one client and from four concurrent clients (small
  payloads, every one committed with synchronous=FULL);
* replays/s: the same Idempotency-Key and body again (what a retry after a lost
  answer costs the platform).

Medians of repeated rounds; the machine is shared, so read them as a floor.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from kiosk.platform import PlatformClient

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = {"service_id": "residence-permit-endorsement",
           "applicant": {"name": "测试", "id_number": "11010519491231002X"},
           "form": {"phone": "13800138000"}, "materials": [], "delivery": {"method": "self_print"},
           "submitted_at": None, "offline": True}


def _fig(name, value, unit, goal, ok, detail):
    return {"name": name, "value": value, "unit": unit, "goal": goal, "ok": ok, "detail": detail}


def _serve(workdir: Path):
    db, port_file = workdir / "central.db", workdir / "port"
    token = subprocess.run([sys.executable, "-m", "central", "--db", str(db), "kiosk-token", "bench"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    process = subprocess.Popen([sys.executable, "-m", "central", "--db", str(db), "serve", "--port", "0",
                                "--port-file", str(port_file)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("central serve did not start")
        time.sleep(0.05)
    return process, f"http://127.0.0.1:{port_file.read_text()}", token


def _rate(clients: list[PlatformClient], per_client: int, keys=None) -> float:
    def work(client, index):
        for i in range(per_client):
            key = keys[index][i] if keys else str(uuid.uuid4())
            client.create_application(PAYLOAD, key)
    threads = [threading.Thread(target=work, args=(c, n)) for n, c in enumerate(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(clients) * per_client / (time.perf_counter() - started)


def run(quick: bool = False) -> list[dict]:
    rounds, per_client = (2, 100) if quick else (5, 300)
    with tempfile.TemporaryDirectory() as tmp:
        process, url, token = _serve(Path(tmp))
        try:
            one = [PlatformClient(url, token, timeout=10)]
            four = [PlatformClient(url, token, timeout=10) for _ in range(4)]
            _rate(one, 20)  # warm up connections and caches
            sequential = statistics.median(_rate(one, per_client) for _ in range(rounds))
            concurrent = statistics.median(_rate(four, per_client // 4) for _ in range(rounds))
            keys = [[str(uuid.uuid4()) for _ in range(per_client)]]
            _rate(one, per_client, keys)
            replay = statistics.median(_rate(one, per_client, keys) for _ in range(rounds))
        finally:
            process.terminate()
            process.wait(timeout=15)
    detail = f"median of {rounds} rounds of {per_client} small applications, central serve on loopback"
    return [
        _fig("central: new applications, 1 client", round(sequential), "req/s", "", None, detail),
        _fig("central: new applications, 4 clients", round(concurrent), "req/s", "", None, detail),
        _fig("central: idempotent replays, 1 client", round(replay), "req/s", "", None, detail),
    ]
