"""What a running platform was started with, kept in ``app.state.settings``."""
from __future__ import annotations

from dataclasses import dataclass

from central.faults import FaultInjector


@dataclass(frozen=True)
class Settings:
    # Fault injection exists only when the server is started for tests (central.testing.run_server,
    # or `central serve --faults-file`); a production `central serve` has neither the middleware
    # nor the /admin/faults routes.
    faults: FaultInjector | None = None
    docs: bool = False  # /docs, /redoc, /openapi.json (`central serve --docs`)

    def processing_delay(self) -> float:
        return self.faults.processing_delay() if self.faults is not None else 0.0
