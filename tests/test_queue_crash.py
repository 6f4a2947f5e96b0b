"""The crash harness: kiosk processes SIGKILLed at random points while they
enqueue and send to the reference platform (a separate server process) with
faults injected; afterwards every application is on the platform exactly
once and the queue is empty.  bench/bench_queue.py runs it with more kills."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from offline_queue.harness import verify

ROOT = Path(__file__).resolve().parent.parent
KILLS = 210


@pytest.fixture
def platform_process(tmp_path):
    """``central serve`` in its own process on a free port, faults from a file."""
    db, port_file, faults = tmp_path / "central.db", tmp_path / "port", tmp_path / "faults.json"
    faults.write_text("{}")
    token = subprocess.run([sys.executable, "-m", "central", "--db", str(db), "kiosk-token", "crash-kiosk"],
                           cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    log = (tmp_path / "central.log").open("wb")  # a file, not a pipe: a full pipe would stall the server
    server = subprocess.Popen([sys.executable, "-m", "central", "--db", str(db), "serve", "--port", "0",
                               "--port-file", str(port_file), "--faults-file", str(faults)],
                              cwd=ROOT, stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while not port_file.exists():
        assert server.poll() is None, (tmp_path / "central.log").read_text()
        assert time.monotonic() < deadline, "central serve did not start"
        time.sleep(0.05)
    try:
        yield {"url": f"http://127.0.0.1:{port_file.read_text()}", "token": token, "db": db, "faults": faults}
    finally:
        server.terminate()
        server.wait(10)
        log.close()


@pytest.mark.timeout(120)
def test_sigkill_at_random_points_loses_nothing_and_duplicates_nothing(platform_process, tmp_path):
    report_path = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "offline_queue.harness", "--data-dir", str(tmp_path / "kiosk"),
                    "--url", platform_process["url"], "--token", platform_process["token"],
                    "--faults-file", str(platform_process["faults"]), "--kills", str(KILLS),
                    "--seed", str(int.from_bytes(os.urandom(2), "big")), "--report", str(report_path)],
                   cwd=ROOT, check=True, timeout=110)
    report = json.loads(report_path.read_text())
    findings = verify(report, platform_process["db"])
    assert report["kills"] >= 200
    assert findings["promised"] >= 100 and findings["stored"] >= findings["promised"]
    assert findings["retried"] > 0, "no fault was ever hit: the harness proved nothing"
    assert findings["lost"] == [] and findings["not_in_outbox"] == []
    assert findings["duplicated"] == [] and findings["unknown"] == [] and findings["mismatched"] == []
    assert findings["left_in_queue"] == 0 and findings["dead"] == 0
    assert findings["on_platform"] == findings["stored"]
    leftovers = [p for p in (tmp_path / "kiosk" / "attachments").iterdir()]
    assert leftovers == [], "scans of acknowledged items must be deleted"
