"""The ``central`` CLI as operators and other test suites use it: a subprocess server
on a free port with a faults file changed at run time, admin commands, and the
embedded platform the dev kiosk starts.  The served tests run on SQLite and on
PostgreSQL (``--db postgresql://…``)."""
from __future__ import annotations

import contextlib
import io
import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from central import cli
from kiosk.platform import AuthError, PlatformClient, RetryableError

ROOT = Path(__file__).resolve().parent.parent


def central(db, *args: str) -> subprocess.CompletedProcess:
    """Run a ``central`` command in-process (same code path as the console script, minus start-up).
    ``db``: a SQLite file, or a ScratchDatabase (the ``central_db`` fixture)."""
    out, err = io.StringIO(), io.StringIO()
    db_args = db.cli_args() if hasattr(db, "cli_args") else ["--db", str(db)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main([*db_args, *args])
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


def wait_for(path: Path, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


@pytest.fixture
def served(tmp_path, central_db):
    """``central serve --port 0`` in a subprocess; yields (base_url, db, faults_file, admin_token)
    (``db``: the ScratchDatabase, for :func:`central`)."""
    db, faults, port_file, admin_file = (central_db, tmp_path / "faults.json", tmp_path / "port",
                                         tmp_path / "admin.token")
    admin_file.write_text("admin-secret-for-tests")
    assert central(db, "admin", "set-password", "--password-file", str(admin_file)).returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "central", *db.cli_args(), "serve", "--port", "0", "--port-file", str(port_file),
         "--faults-file", str(faults)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(wait_for(port_file))
        yield f"http://127.0.0.1:{port}", db, faults, "admin-secret-for-tests"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        logs = process.stderr.read()
        assert "Bearer" not in logs
        assert f"(database {db.db})" in process.stdout.read()


def test_subprocess_server_with_faults_file_and_admin_endpoint(served):
    base_url, db, faults_file, admin_token = served
    token = central(db, "kiosk-token", "harness-kiosk").stdout.strip()
    client = PlatformClient(base_url, token, timeout=5)
    beat = {"kiosk_id": "harness-kiosk", "version": "t", "uptime_s": 1}
    assert client.heartbeat(beat)
    faults_file.write_text(json.dumps({"error_rate": 1.0, "error_status": 503, "retry_after": 2}))
    with pytest.raises(RetryableError) as caught:
        client.heartbeat(beat)
    assert caught.value.retry_after == 2
    faults_file.unlink()  # gone: no faults
    assert client.heartbeat(beat)
    url = base_url + "/admin/faults"
    assert requests.put(url, json={"fail_next": 1}, timeout=5).status_code == 401  # the admin credential is asked
    put = requests.put(url, json={"fail_next": 1, "error_status": 500}, timeout=5,
                       headers={"X-Admin-Token": admin_token})
    assert put.status_code == 200 and put.json()["fail_next"] == 1
    with pytest.raises(RetryableError):
        client.heartbeat(beat)
    assert client.heartbeat(beat)
    bad = requests.put(url, json={"nonsense": 1}, headers={"X-Admin-Token": admin_token}, timeout=5)
    assert bad.status_code == 422 and "unknown fault" in bad.text


def test_admin_commands(served, tmp_path):
    base_url, db, _, _ = served
    out = central(db, "enroll-code", "--ttl", "30m", "--region", "320113").stdout
    code = out.split()[0]
    enrolled = PlatformClient(base_url, timeout=5).enroll(code, kiosk_id="qixia-01")
    client = PlatformClient(base_url, enrolled["token"], timeout=5)
    created = client.create_application({
        "service_id": "sole-proprietor-registration",
        "applicant": {"name": "李四", "id_number": "11010519491231002X"}, "form": {"business_name": "栖霞小店"},
        "materials": [], "delivery": {}, "submitted_at": None, "offline": True}, str(uuid.uuid4()))
    listing = central(db, "applications", "list").stdout
    assert created["application_no"] in listing and "promised*" in listing
    assert "李四" not in listing and "11010519491231002X" not in listing
    approved = central(db, "applications", "approve", created["application_no"])
    assert approved.returncode == 0 and "approved" in approved.stdout
    again = central(db, "applications", "approve", created["application_no"])
    assert again.returncode == 2 and "already approved" in again.stderr
    from tests.test_central_intake import present
    status = client.application_status(created["application_no"], present(client, "11010519491231002X"))
    assert status["documents"][0]["title"] == "营业执照"

    client.heartbeat({"kiosk_id": "qixia-01", "version": "1.2", "uptime_s": 3,
                      "devices": {"licence_printer": {"state": "FAULT", "reason": "cover open", "code": "cover"}}})
    fleet = central(db, "kiosks").stdout.splitlines()
    assert fleet[1].startswith("qixia-01") and "cover open" in fleet[1]

    bundle = tmp_path / "menu.bundle"
    bundle.write_bytes(b'{"signed": true}')
    assert "ETag" in central(db, "menu", "publish", str(bundle)).stdout
    assert client.get_menu()[0] == b'{"signed": true}'
    missing = central(db, "menu", "publish", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "bundle file" in missing.stderr
    assert central(db, "menu", "pubkeys", "a", "b", "c").returncode == 2
    with pytest.raises(SystemExit):  # argparse: a one-line usage error
        central(db, "enroll-code", "--ttl", "soon")


def test_embedded_platform_serves_the_dev_kiosk(make_config, caplog):
    from kiosk import embedded_platform
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = make_config(f'[platform]\nlocal_port = {port}\n[menu]\npath = "{ROOT / "assets/menus/sample.json"}"\n')
    client = PlatformClient.from_config(config)  # made before the platform exists, as the app does
    with pytest.raises(AuthError):  # no token yet (the queue retries these)
        client.heartbeat({"kiosk_id": config.kiosk.id, "version": "t", "uptime_s": 1})
    assert embedded_platform.start_in_background(config).wait(timeout=60)
    time.sleep(0.5)  # the starter thread has returned from start(): the platform must outlive it
    problems = [r.getMessage() for r in caplog.records if r.name == "kiosk.embedded_platform" and r.levelno >= 40]
    assert problems == [], problems
    base_url = f"http://127.0.0.1:{port}"
    try:
        assert client.token  # picked up from the token file the embedded start wrote
        from tests.test_central_intake import present
        grant = present(client, "440304194905120026")
        titles = {d["title"] for d in client.query_documents(grant)}
        assert {"营业执照", "社会保险参保证明"} <= titles
        assert {m["material_id"] for m in client.reusable_materials(grant)} >= {"household-register"}
        assert client.get_menu()[0]  # the shipped signed bundle was published
        again_url, again_token = embedded_platform.start(config)  # a second start reuses the server
        assert again_url == base_url and PlatformClient(base_url, again_token).heartbeat(
            {"kiosk_id": config.kiosk.id, "version": "t", "uptime_s": 1})
        assert len({d["document_id"] for d in client.query_documents(grant)}) == 2
    finally:
        embedded_platform.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(base_url + "/healthz", timeout=2)


def test_openapi_command_needs_no_database(tmp_path):
    result = central(tmp_path / "none" / "x.db", "openapi")
    assert result.returncode == 0 and json.loads(result.stdout)["info"]["version"]
    assert not (tmp_path / "none").exists()


def test_serve_on_a_busy_port_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = central(tmp_path / "c.db", "serve", "--port", str(busy.getsockname()[1]))
    assert result.returncode == 2 and "port in use" in result.stderr
