"""Run the reference platform inside a test: a real uvicorn server on a free loopback port.

    with run_server(tmp_path / "central.db", faults=Faults(error_rate=0.2)) as platform:
        client = PlatformClient(platform.base_url, platform.token)
        platform.set_faults(drop_after_rate=0.3, seed=1)   # change faults while it runs

``platform.token`` belongs to kiosk ``platform.kiosk_id`` (default
"test-kiosk"); ``platform.store`` is the server's database for assertions.
"""
from __future__ import annotations

import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import uvicorn

from central.admin import DEFAULT_REGION, issue_kiosk_token
from central.app import create_app
from central.faults import FaultInjector, Faults
from central.storage import Store


@dataclass
class LocalPlatform:
    base_url: str
    token: str
    kiosk_id: str
    admin_token: str
    store: Store
    faults: FaultInjector

    def set_faults(self, **fields) -> None:
        """Replace the active faults (no fields: no faults)."""
        self.faults.set(Faults.from_dict(fields))

    def count(self, table: str) -> int:
        return self.store.one(f"SELECT COUNT(*) AS n FROM {table}")["n"]


class ServerThread:
    """uvicorn in a daemon thread; ``port`` is known once ``start()`` returns."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, ssl_certfile: str | None = None,
                 ssl_keyfile: str | None = None):
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=2, access_log=False,
                                ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="central-server", daemon=True)
        self.host = host
        self.port = port

    def _run(self) -> None:
        try:
            self.server.run()
        except SystemExit:  # uvicorn exits when it cannot bind; start() reports it
            pass

    def start(self, timeout: float = 15.0) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the reference platform did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def run_server(db_path: str | Path, faults: Faults | None = None, kiosk_id: str = "test-kiosk",
               region: str = DEFAULT_REGION) -> Iterator[LocalPlatform]:
    store = Store(db_path)
    injector = FaultInjector(faults)
    admin_token = secrets.token_urlsafe(16)
    token = issue_kiosk_token(store, kiosk_id, region)
    server = ServerThread(create_app(store, injector, admin_token=admin_token)).start()
    try:
        yield LocalPlatform(f"http://127.0.0.1:{server.port}", token, kiosk_id, admin_token, store, injector)
    finally:
        server.stop()
        store.close()
