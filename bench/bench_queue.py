"""Offline queue benchmarks.

* durable enqueue rate vs a raw SQLite WAL+FULL commit rate, same disk, same
  run, interleaved commit by commit (goal: enqueue ≥ 80 % of raw; enqueue includes
  JSON, AES-GCM and the disk guard);
* drain rate of a backlog of small applications to the reference platform
  running as its own process on loopback (goal ≥ 500/s), with the sender's
  RSS sampled while it drains (goal: flat); the queue sends a backlog in
  batches, and the same backlog sent one request per item (a platform
  without the batch endpoint) is measured beside it;
* the crash harness with more kills than ``make test`` runs;
* a fleet simulation: 10,000 kiosks' retry schedules through a one-hour
  outage, driven by the sender's own :func:`offline_queue.backoff.retry_delay`;
  the peak request rate after recovery vs the steady retry rate (goal ≤ 1.5×).
"""
from __future__ import annotations

import heapq
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from kiosk.platform import PlatformClient
from offline_queue.backoff import retry_delay
from offline_queue.crypto import Sealer
from offline_queue.harness import PlatformProcess, run as run_harness, verify
from offline_queue.outbox import Outbox
from offline_queue.sender import BATCH_MAX_ITEMS, Sender

ROOT = Path(__file__).resolve().parent.parent
SMALL_APPLICATION = {"service_id": "elderly-card",
                     "applicant": {"name": "王秀英", "id_number": "440304194905120026", "card_type": "resident"},
                     "form": {"phone": "13812345678"}, "materials": [], "delivery": {"method": "pickup"},
                     "submitted_at": "2026-11-22T10:00:00+08:00", "offline": True}


def _fig(name, value, unit, goal="", ok=None, detail=""):
    return {"name": name, "value": value, "unit": unit, "goal": goal, "ok": ok, "detail": detail}


# -- enqueue vs raw commits ---------------------------------------------------
def enqueue_vs_raw(workdir: Path, rounds: int, per_round: int) -> list[dict]:
    outbox = Outbox(workdir / "enq" / "outbox.sqlite3", Sealer(os.urandom(32)), min_free_mb=1)
    raw = sqlite3.connect(workdir / "enq" / "raw.sqlite3", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=FULL")
    raw.execute("CREATE TABLE raw (id TEXT PRIMARY KEY, payload BLOB)")
    blob = os.urandom(len(str(SMALL_APPLICATION).encode()) + 28)
    # Interleave one raw commit and one enqueue at a time so both see the same
    # disk weather (the machine is shared); rates per block of ``per_round``.
    enqueue_rates, raw_rates = [], []
    for _ in range(rounds):
        raw_s = enqueue_s = 0.0
        for _ in range(per_round):
            t0 = time.perf_counter()
            raw.execute("INSERT INTO raw VALUES (?, ?)", (str(uuid.uuid4()), blob))
            t1 = time.perf_counter()
            outbox.enqueue("application", SMALL_APPLICATION)
            t2 = time.perf_counter()
            raw_s += t1 - t0
            enqueue_s += t2 - t1
        raw_rates.append(per_round / raw_s)
        enqueue_rates.append(per_round / enqueue_s)
    outbox.close()
    raw.close()
    ratios = [e / r for e, r in zip(enqueue_rates, raw_rates)]
    enq, rawm, ratio = statistics.median(enqueue_rates), statistics.median(raw_rates), statistics.median(ratios)
    detail = f"median of {rounds} blocks x {per_round} interleaved commits; per-block ratios " + \
             ", ".join(f"{r:.2f}" for r in ratios)
    return [_fig("queue: durable enqueue rate", round(enq), "items/s", "", None, detail),
            _fig("queue: raw SQLite WAL+FULL commit rate (same disk)", round(rawm), "commits/s", "", None, detail),
            _fig("queue: enqueue / raw commit rate", round(ratio, 3), "ratio", ">= 0.80", ratio >= 0.80, detail)]


# -- drain to a platform process ----------------------------------------------
def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def drain(workdir: Path, backlog: int, batch_items: int, label: str) -> list[dict]:
    """Drain ``backlog`` small applications from an outbox in ``workdir`` to a
    platform process whose database is on the same disk."""
    platform = PlatformProcess(workdir / f"platform-{batch_items}", "bench-drain")
    try:
        outbox = Outbox(workdir / "drain" / "outbox.sqlite3", Sealer(os.urandom(32)), min_free_mb=1)
        for _ in range(backlog):
            outbox.enqueue("application", SMALL_APPLICATION)
        client = PlatformClient(platform.url, token=platform.token, timeout=10.0)
        sender = Sender(outbox, client, backoff_base_s=0.01, backoff_cap_s=0.1, batch_items=batch_items)
        samples: list[tuple[float, int]] = []
        stop = threading.Event()

        def sample():
            while not stop.wait(0.2):
                samples.append((time.perf_counter(), _rss_bytes()))
        sampler = threading.Thread(target=sample, daemon=True)
        rss_before = _rss_bytes()
        started = time.perf_counter()
        sampler.start()
        sender.start()
        while outbox.stats()["depth"]:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
        sender.stop()
        delivered = outbox.stats(include_done=True)["done"]
        outbox.close()
    finally:
        platform.close()
    shutil.rmtree(workdir / "drain", ignore_errors=True)
    rate = delivered / elapsed
    # Growth after warm-up: the first tenth of the drain allocates connection pools and caches once.
    warm = [rss for t, rss in samples if t - started >= elapsed * 0.1] or [rss_before]
    growth_mb = (max(warm) - warm[0]) / 2**20
    how = (f"in batches of up to {batch_items} (POST /v1/applications/batch)" if batch_items > 1
           else "one request per item (POST /v1/applications)")
    detail = (f"{delivered} small applications to a central serve process on loopback, database on the same "
              f"disk, {how}, kept-alive requests.Session; {elapsed:.1f} s")
    return [_fig(f"queue: drain rate to the local platform ({label})", round(rate), "items/s",
                 ">= 500" if batch_items > 1 else "", rate >= 500 if batch_items > 1 else None, detail),
            _fig(f"queue: sender RSS growth while draining {backlog} items ({label})", round(growth_mb, 2), "MB",
                 "flat (< 5 MB)", growth_mb < 5,
                 f"RSS {rss_before / 2**20:.1f} MB before, {warm[0] / 2**20:.1f} after warm-up, "
                 f"peak {max(warm) / 2**20:.1f}, end {warm[-1] / 2**20:.1f}; sampled every 0.2 s")]


def sender_ceiling(workdir: Path, backlog: int) -> list[dict]:
    """The kiosk side alone: the sender draining to a client that answers at once."""
    class Instant:
        def submit(self, kind, payload, idempotency_key):
            return {"application_no": "N"}
    outbox = Outbox(workdir / "ceiling" / "outbox.sqlite3", Sealer(os.urandom(32)), min_free_mb=1)
    for _ in range(backlog):
        outbox.enqueue("application", SMALL_APPLICATION)
    sender = Sender(outbox, Instant())
    started = time.perf_counter()
    sender.start()
    while outbox.stats()["depth"]:
        time.sleep(0.05)
    rate = backlog / (time.perf_counter() - started)
    sender.stop()
    outbox.close()
    return [_fig("queue: sender throughput, kiosk side only (no network)", round(rate), "items/s", "", None,
                 "decrypt + mark sending + mark done + purge per item, outbox on disk; the rest of a drain's "
                 "time is HTTP and the platform")]


# -- crash harness --------------------------------------------------------------
def crash(workdir: Path, kills: int) -> list[dict]:
    platform = PlatformProcess(workdir / "crash-platform", "bench-crash")
    try:
        report = run_harness(workdir / "crash-kiosk", platform.url, platform.token, kills,
                             seed=int.from_bytes(os.urandom(2), "big"), faults_file=platform.faults,
                             drain_timeout_s=300.0)
        findings = verify(report, platform.db)
    finally:
        platform.close()
    bad = len(findings["lost"]) + len(findings["duplicated"]) + len(findings["unknown"]) + \
        len(findings["mismatched"]) + len(findings["misattached"]) + findings["left_in_queue"]
    detail = (f"{kills} SIGKILLs; {findings['promised']} items promised ({findings['ratings']} ratings stored "
              f"behind their applications), {findings['stored']} stored, "
              f"{findings['on_platform']} on the platform, {findings['retried']} needed retries; "
              f"lost {len(findings['lost'])}, duplicated {len(findings['duplicated'])}, "
              f"left in queue {findings['left_in_queue']}; kill phase {report['kill_phase_s']} s, "
              f"drain {report['drain_s']} s")
    return [_fig("queue: crash harness kill points", kills, "SIGKILLs", ">= 200", kills >= 200, detail),
            _fig("queue: crash harness lost + duplicated + undrained", bad, "items", "0", bad == 0, detail)]


# -- fleet simulation -------------------------------------------------------------
def fleet(kiosks: int = 10_000, outage_s: float = 3600.0, base_s: float = 1.0, cap_s: float = 300.0,
          bucket_s: float = 10.0, seed: int = 1, delay=None) -> dict:
    """Every kiosk fails its first attempt at a random moment of the outage's
    first minute and retries on its schedule; the platform returns at
    ``outage_s`` and each kiosk's next attempt succeeds.

    Returns the steady retry rate (the last 20 minutes of the outage), the
    peak rate over ``bucket_s`` windows from the recovery to ``cap_s`` after
    it, and their ratio.  ``delay(failures, rng)`` defaults to the sender's
    :func:`retry_delay` (no Retry-After: the platform is unreachable).
    """
    rng = random.Random(seed)
    delay = delay or (lambda failures, r: retry_delay(failures, None, base_s, cap_s, r))
    attempts: list[float] = []
    events = [(rng.uniform(0.0, 60.0), 0) for _ in range(kiosks)]  # (time, failures so far)
    heapq.heapify(events)
    while events:
        t, failures = heapq.heappop(events)
        attempts.append(t)
        if t < outage_s:  # failed: schedule the next attempt
            heapq.heappush(events, (t + delay(failures + 1, rng), failures + 1))
    steady_window = 1200.0
    steady = sum(1 for t in attempts if outage_s - steady_window <= t < outage_s) / steady_window
    buckets: dict[int, int] = {}
    for t in attempts:
        if outage_s <= t < outage_s + cap_s + bucket_s:
            buckets[int((t - outage_s) // bucket_s)] = buckets.get(int((t - outage_s) // bucket_s), 0) + 1
    peak = max(buckets.values()) / bucket_s
    return {"steady": steady, "peak": peak, "ratio": peak / steady, "attempts": len(attempts)}


def fleet_figures() -> list[dict]:
    sim = fleet()
    no_jitter = fleet(delay=lambda failures, r: min(300.0, 1.0 * 2.0 ** (failures - 1)))
    detail = (f"10,000 kiosks, 1 h outage, base 1 s, cap 300 s, 10 s windows; steady {sim['steady']:.1f} req/s, "
              f"peak after recovery {sim['peak']:.1f} req/s, {sim['attempts']} attempts. Without jitter "
              f"(plain exponential) the peak would be {no_jitter['ratio']:.1f}x steady")
    return [_fig("queue: fleet peak / steady request rate after a 1 h outage", round(sim["ratio"], 3), "ratio",
                 "<= 1.5", sim["ratio"] <= 1.5, detail)]


def run(quick: bool) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-queue-", dir=ROOT / "var" if (ROOT / "var").is_dir() else None) as d:
        workdir = Path(d)
        figures = enqueue_vs_raw(workdir, rounds=5 if quick else 9, per_round=200 if quick else 500)
        backlog = 2000 if quick else 10_000
        figures += drain(workdir, backlog, BATCH_MAX_ITEMS, "the queue as shipped: batches")
        figures += drain(workdir, backlog, 1, "one request per item, for comparison")
        figures += sender_ceiling(workdir, backlog)
        figures += crash(workdir, 200 if quick else 1000)
    figures += fleet_figures()
    return figures
