"""Shared fixtures.  UI tests run under Xvfb (``make test`` wraps pytest in
xvfb-run); never set KIVY_GL_BACKEND=mock, which silently collects nothing."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_HOME", str(ROOT / "var" / "test-kivy-home"))
Path(os.environ["KIVY_HOME"]).mkdir(parents=True, exist_ok=True)  # Kivy makes only the last level (fresh clone)
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")


@pytest.fixture(autouse=True)
def ui_reset(request):
    """A UI test (one using a running KioskApp as ``app``) starts and ends at the attract
    screen in the defaults, so one that fails half-way does not fail the rest."""
    app = request.getfixturevalue("app") if "app" in request.fixturenames else None
    if not hasattr(app, "go_home"):
        yield
        return
    from tests.ui_driver import reset
    reset(app)
    yield
    reset(app)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "var"
    d.mkdir()
    return d


@pytest.fixture
def make_config(tmp_path: Path):
    """Write a TOML config (data_dir defaults to a temp dir) and load it."""
    from kiosk import config as cfg

    def make(text: str = "", name: str = "kiosk.toml"):
        if "data_dir" not in text:
            text = f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\n' + text if "[kiosk]" not in text else text
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return cfg.load(path)
    return make


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL cluster for the whole session (central.testing.TempPostgres):
    started on first use, removed at the end.  Never skipped: scripts/bootstrap.sh installs
    Debian's `postgresql`, and a missing server is a failure."""
    from central.testing import TempPostgres
    cluster = TempPostgres().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def central_db(request, tmp_path):
    """The reference platform's database, once per dialect: a SQLite file, or a fresh schema
    in the session's PostgreSQL cluster (dropped afterwards).  See central.testing.ScratchDatabase."""
    from central.testing import ScratchDatabase
    if request.param == "sqlite":
        yield ScratchDatabase("sqlite", tmp_path / "central.db", tmp_path / "central.pepper")
        return
    cluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_schema()
    yield ScratchDatabase("postgresql", url, tmp_path / "central.pepper", cluster)
    cluster.drop(url)
