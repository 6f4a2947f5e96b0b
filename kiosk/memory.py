"""Native memory given back between residents (issue 18).

A soak of the real app (bench/bench_soak.py) showed the resident-set size growing by
1.4 MB (issue 18) to ~10 MB (here, 40 sessions) per session while Python objects, widgets, textures and glibc's *in-use*
heap stayed flat: what grew was glibc's *free but held* memory (``mallinfo2().fordblks``)
-- freed camera frames, face and document captures (several MB each, allocated and
freed by worker threads in many arenas) left fragmented arenas that glibc keeps
rather than returning to the kernel.  ``malloc_trim(0)`` gives those pages back.

:func:`configure` keeps large image buffers out of the arenas (a fixed mmap threshold), and
:func:`trim_soon` runs ``malloc_trim``  in a short-lived background thread shortly after a session
ends (never on the UI thread, never while a resident waits), at most one at a time.
Linux/glibc only: elsewhere it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import threading
import time

from kiosk.background import run_in_thread

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8   # mallopt parameters (glibc malloc.h)
ARENA_MAX = 2             # worker threads share two arenas instead of up to 8 per core, each keeping its holes
MMAP_THRESHOLD = 1 << 20  # buffers of 1 MiB and more (camera frames, captures) get their own mapping
TRIM_DELAY_S = 2.0      # after the session ends: the screens have dropped its widgets and images by then
_running = threading.Lock()
_libc = None


def _glibc():
    global _libc
    if _libc is None:
        _libc = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
                libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
                _libc = libc
            except (OSError, AttributeError):
                pass
    return _libc or None


def configure() -> bool:
    """Fix glibc's mmap threshold at 1 MiB (once, at core start).

    glibc raises its mmap threshold dynamically up to 32 MiB each time a mapped chunk is
    freed: after the first camera frame (2.7 MB at 1280x720) every later frame, face crop
    and page scan is carved from the arenas instead, and freeing them leaves holes glibc
    keeps.  A fixed threshold keeps large image buffers in their own mappings, returned to
    the kernel the moment they are freed.  At most ``ARENA_MAX`` arenas: each worker thread
    (devices, queue, menu poller, use cases) otherwise gets its own, holding its own free
    pages.  False where there is no glibc."""
    libc = _glibc()
    if libc is None:
        return False
    ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok &= libc.mallopt(M_TRIM_THRESHOLD, 4 * MMAP_THRESHOLD) == 1
    ok &= libc.mallopt(M_ARENA_MAX, ARENA_MAX) == 1
    return bool(ok)


def trim() -> bool:
    """Return glibc's free heap pages to the kernel now; False where there is no glibc."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def trim_soon(delay_s: float | None = None) -> bool:
    """Trim in the background after ``delay_s`` (default ``TRIM_DELAY_S``); False if a trim
    is already on its way or there is no glibc."""
    if _glibc() is None or not _running.acquire(blocking=False):
        return False
    delay_s = TRIM_DELAY_S if delay_s is None else delay_s

    def work() -> None:
        try:
            time.sleep(delay_s)
            started = time.monotonic()
            trim()
            log.debug("memory: heap trimmed in %.0f ms", (time.monotonic() - started) * 1000)
        finally:
            _running.release()
    run_in_thread(work, "malloc-trim")
    return True
