"""The crash harness: kiosk processes SIGKILLed at random points while they
enqueue and send to the reference platform (a separate server process) with
faults injected; afterwards every application, rating and supplement is on the
platform exactly once and the queue is empty.  bench/bench_queue.py runs it with more kills."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from offline_queue.harness import PlatformProcess, verify

ROOT = Path(__file__).resolve().parent.parent
KILLS = 210


@pytest.fixture
def platform_process(tmp_path):
    with PlatformProcess(tmp_path / "platform", "crash-kiosk") as platform:
        yield platform


@pytest.mark.timeout(120)
def test_sigkill_at_random_points_loses_nothing_and_duplicates_nothing(platform_process, tmp_path):
    report_path = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "offline_queue.harness", "--data-dir", str(tmp_path / "kiosk"),
                    "--url", platform_process.url, f"--token={platform_process.token}",  # may start with "-"
                    "--faults-file", str(platform_process.faults), "--kills", str(KILLS),
                    "--seed", str(int.from_bytes(os.urandom(2), "big")), "--report", str(report_path)],
                   cwd=ROOT, check=True, timeout=110)
    report = json.loads(report_path.read_text())
    findings = verify(report, platform_process.db)
    assert report["kills"] >= 200
    assert findings["promised"] >= 100 and findings["stored"] >= findings["promised"]
    assert findings["retried"] > 0, "no fault was ever hit: the harness proved nothing"
    assert findings["lost"] == [] and findings["not_in_outbox"] == []
    assert findings["duplicated"] == [] and findings["unknown"] == [] and findings["mismatched"] == []
    assert findings["ratings"] > 0 and findings["misattached"] == []
    assert findings["supplements"] >= 20            # 边办边补: each handed in exactly once (lost/duplicated above)
    assert findings["left_in_queue"] == 0 and findings["dead"] == 0
    assert findings["on_platform"] == findings["stored"]
    leftovers = [p for p in (tmp_path / "kiosk" / "attachments").iterdir()]
    assert leftovers == [], "scans of acknowledged items must be deleted"
