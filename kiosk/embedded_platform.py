"""The embedded default: the reference platform beside the kiosk on loopback.

When ``platform.url`` is empty (the dev kiosk, ``make run``), :func:`start`
runs ``central serve`` as a child process on 127.0.0.1:``platform.local_port``
with its database under ``data_dir/central``, seeded for the sample resident
(central/devseed.py), publishes the shipped menu bundle, and writes the dev
kiosk's token where the kiosk reads it (kiosk.platform.token_path).  The
child is stopped when the kiosk exits -- also when the kiosk is killed
(PR_SET_PDEATHSIG).  If a platform from an earlier run still answers on the
port, it is reused: tokens are checked against the database, not memory.
"""
from __future__ import annotations

import atexit
import ctypes
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from kiosk.platform import save_token

log = logging.getLogger("kiosk.embedded_platform")
START_TIMEOUT_S = 20.0
_children: list[subprocess.Popen] = []
_stopped = threading.Event()  # releases the starter threads (see start_in_background)


class EmbeddedPlatformError(RuntimeError):
    """The local platform could not be started; the message says why, for a technician."""


def _die_with_parent() -> None:  # runs in the child before exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _answers(base_url: str) -> bool:
    """True when a central platform (ours) answers at base_url."""
    try:
        with requests.Session() as session:
            session.trust_env = False  # loopback must never go through a proxy variable
            response = session.get(base_url + "/healthz", timeout=1.0)
    except requests.RequestException:
        return False
    try:
        return response.ok and response.json().get("service") == "central"
    except ValueError:
        return False


def _central(config, *args: str) -> subprocess.CompletedProcess:
    db = config.data_dir / "central" / "central.db"
    return subprocess.run([sys.executable, "-m", "central", "--db", str(db), *args],
                          capture_output=True, text=True, timeout=60)


def start(config) -> tuple[str, str]:
    """Start (or reuse) the local platform; return ``(base_url, token)`` of the dev kiosk."""
    from kiosk.platform import token_path
    port = int(config.platform.local_port)
    base_url = f"http://127.0.0.1:{port}"
    central_dir = config.data_dir / "central"
    central_dir.mkdir(parents=True, exist_ok=True)
    token_file = central_dir / "dev-kiosk.token"
    extra: list[str] = []
    bundle = _bundle_path(config)
    if bundle is not None:
        extra += ["--menu-bundle", str(bundle)]
    for key in config.menu.pubkeys[:2]:
        extra += ["--menu-pubkey", key]
    seeded = _central(config, "seed-dev", "--kiosk-id", config.kiosk.id, "--region", config.kiosk.region,
                      "--token-file", str(token_file), *extra)
    if seeded.returncode != 0:
        raise EmbeddedPlatformError(f"seeding the local platform failed: {seeded.stderr.strip()[-300:]}")
    token = token_file.read_text().strip()
    save_token(config, token)
    if _answers(base_url):
        log.info("reusing the local platform already running on port %d", port)
        return base_url, token
    log_file = open(central_dir / "central.log", "ab")
    child = subprocess.Popen(
        [sys.executable, "-m", "central", "--db", str(central_dir / "central.db"), "serve",
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=log_file, stderr=log_file, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    log_file.close()
    _children.append(child)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers(base_url):
        if child.poll() is not None:
            raise EmbeddedPlatformError(f"the local platform exited (status {child.returncode}); "
                                        f"see {central_dir / 'central.log'} (port {port} in use?)")
        if time.monotonic() > deadline:
            stop()
            raise EmbeddedPlatformError(f"the local platform did not answer on port {port} "
                                        f"within {START_TIMEOUT_S:g} s")
        time.sleep(0.1)
    log.info("local platform started on port %d (token in %s)", port, token_path(config))
    return base_url, token


def start_in_background(config) -> threading.Event:
    """Run :func:`start` on a worker thread (it takes seconds); failures are logged for the
    technician.  Returns an event set once the attempt has finished.  Clients made with
    ``PlatformClient.from_config`` pick the token up when it is written, and retry
    (connection refused) until the platform answers.

    The worker stays alive until :func:`stop`: PR_SET_PDEATHSIG fires when the *thread*
    that forked the child exits, so a starter thread that returned would take the
    platform down with it."""
    finished = threading.Event()

    def run() -> None:
        try:
            start(config)
        except (EmbeddedPlatformError, OSError, subprocess.SubprocessError) as exc:
            log.error("local reference platform not started: %s", exc)
            return
        finally:
            finished.set()
        _stopped.wait()

    _stopped.clear()
    threading.Thread(target=run, name="embedded-platform", daemon=True).start()
    return finished


def _bundle_path(config) -> Path | None:
    """The signed bundle beside the configured menu (sample.json → sample.bundle), if shipped."""
    menu = config.path(config.menu.path)
    candidate = menu.with_suffix(".bundle")
    return candidate if candidate.is_file() else None


def stop() -> None:
    """Stop the child platforms started by this process."""
    _stopped.set()
    while _children:
        child = _children.pop()
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


atexit.register(stop)
