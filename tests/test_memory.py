"""Issue 18: glibc's free-but-held heap is given back between residents (kiosk/memory.py)."""
from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from kiosk import memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")


class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]


def free_held_mb() -> float:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    return libc.mallinfo2().fordblks / 2**20


def fragment_in_a_thread() -> None:
    """What a capture worker does: many mid-sized buffers (below the mmap threshold), then
    frees all but a few scattered ones, so the arena cannot shrink from its top."""
    def work():
        held = [bytearray(100_000) for _ in range(600)]
        keep = held[::50]
        del held
        work.keep = keep
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return work.keep


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024


def test_trim_gives_free_heap_back():
    """glibc keeps the freed pages (free but held: mallinfo2's fordblks) in the resident set;
    malloc_trim(0) hands them back to the kernel (the RSS drops, the bookkeeping stays)."""
    keep = fragment_in_a_thread()
    assert free_held_mb() > 20, f"the test did not fragment the heap ({free_held_mb():.1f} MB free but held)"
    before = rss_mb()
    assert memory.trim() is True
    assert rss_mb() < before - 20, f"RSS {before:.0f} -> {rss_mb():.0f} MB"
    del keep


def test_a_session_end_trims_in_the_background(tmp_path, monkeypatch):
    from kiosk import config as cfg
    from kiosk.core import KioskCore
    calls = []
    monkeypatch.setattr(memory, "TRIM_DELAY_S", 0.05)
    monkeypatch.setattr(memory, "trim", lambda: calls.append(threading.current_thread().name) or True)
    core = KioskCore(cfg.parse(f'[kiosk]\ndata_dir = "{tmp_path}"\n'))
    core.begin_session()
    core.end_session()
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == ["malloc-trim"]                      # off the caller's thread
    core.end_session()                                   # no session: nothing to give back
    time.sleep(0.2)
    assert calls == ["malloc-trim"]


CAPTURES = """
import random, sys, threading
from kiosk import memory
from tests.test_memory import rss_mb
if sys.argv[1] == "configured":
    assert memory.configure()
def captures():
    keep, rng = [], random.Random(1)
    first = bytearray(8_000_000)             # freed: glibc's dynamic threshold rises to 8 MB
    del first
    for _ in range(60):                      # preview frames, page scans, face crops ...
        frame = bytearray(rng.choice((1_200_000, 2_764_800, 6_220_800)))
        frame[::4096] = b"\\x01" * len(frame[::4096])
        small = bytearray(rng.randint(20_000, 120_000))
        small[::4096] = b"\\x01" * len(small[::4096])
        keep.append(small)                   # ... with the small things that outlive them
        del frame
    captures.keep = keep[::6]
before = rss_mb()
thread = threading.Thread(target=captures)
thread.start()
thread.join()
print(rss_mb() - before)
"""


def test_large_buffers_freed_by_a_worker_go_back_to_the_kernel():
    """After ``configure()`` camera-frame-sized buffers freed in a worker thread do not stay in
    the resident set: without it glibc's dynamic mmap threshold carves them from an arena,
    whose holes the small allocations between them pin."""
    import subprocess
    root = Path(__file__).resolve().parent.parent

    def growth(mode: str) -> float:
        out = subprocess.run([sys.executable, "-c", CAPTURES, mode], cwd=root, capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONPATH": str(root)}).stdout
        return float(out.strip())
    default, configured = growth("default"), growth("configured")
    assert configured < default - 3, f"RSS growth {default:.1f} MB by default, {configured:.1f} MB configured"
