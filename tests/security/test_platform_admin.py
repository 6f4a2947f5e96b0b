"""Issue 11.3: admin credentials apart from kiosk tokens, stored hashed and compared as bytes;
fault injection only in a server started for tests; /docs, /redoc, /openapi.json off unless asked."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import requests

from tests.security.conftest import RESIDENT_A
from tests.test_central_cli import ROOT, central, wait_for


def test_a_non_ascii_admin_token_is_401_not_500(platform):
    for header in ("管理员".encode("utf-8"), b"\xff\xfe\x80"):
        answer = requests.get(platform.base_url + "/admin/faults", headers={"X-Admin-Token": header}, timeout=10)
        assert answer.status_code == 401


def test_a_non_ascii_print_token_is_409_not_500(kiosk_a):
    [document] = kiosk_a.apply(RESIDENT_A)["documents"]
    answer = kiosk_a.call("POST", f"/v1/documents/{document['document_id']}/printed",
                          {"print_token": "打印令牌", "result": "printed"})
    assert answer.status_code == 409


def test_the_admin_credential_is_stored_hashed_and_is_no_kiosk_token(platform, kiosk_a):
    stored = platform.store.one("SELECT value FROM settings WHERE name = 'admin_credential'")["value"]
    assert platform.admin_token not in stored and "scrypt" not in stored and '"n": 16384' in stored
    fleet = platform.base_url + "/admin/fleet"
    assert requests.get(fleet, auth=("admin", kiosk_a.token), timeout=10).status_code == 401
    assert requests.get(fleet, auth=("admin", platform.admin_token), timeout=10).status_code == 200
    as_kiosk = requests.post(platform.base_url + "/v1/heartbeat", json={"kiosk_id": "x", "version": "1", "uptime_s": 1},
                             headers={"Authorization": f"Bearer {platform.admin_token}"}, timeout=10)
    assert as_kiosk.status_code == 401


def test_api_documentation_is_off_in_a_default_server(platform):
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert requests.get(platform.base_url + path, timeout=10).status_code == 404


@pytest.fixture
def production_server(tmp_path):
    """`central serve` as an operator starts it: with an admin credential, without test switches."""
    db, port_file, password = tmp_path / "central.db", tmp_path / "port", tmp_path / "admin.password"
    password.write_text("a long admin password for the fleet")
    assert central(db, "admin", "set-password", "--password-file", str(password)).returncode == 0

    def serve(*extra: str):
        port_file.unlink(missing_ok=True)
        process = subprocess.Popen([sys.executable, "-m", "central", "--db", str(db), "serve", "--port", "0",
                                    "--port-file", str(port_file), *extra], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append(process)
        return f"http://127.0.0.1:{int(wait_for(port_file))}"
    servers: list = []
    yield serve, password.read_text()
    for process in servers:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def test_central_serve_has_no_fault_injection_and_docs_only_when_asked(production_server):
    serve, password = production_server
    base_url = serve()
    put = requests.put(base_url + "/admin/faults", json={"error_rate": 1.0}, timeout=10,
                       headers={"X-Admin-Token": password})
    assert put.status_code == 404  # the route does not exist, even with the admin credential
    assert requests.get(base_url + "/admin/fleet", auth=("admin", password), timeout=10).status_code == 200
    assert requests.get(base_url + "/openapi.json", timeout=10).status_code == 404
    with_docs = serve("--docs")
    assert requests.get(with_docs + "/openapi.json", timeout=10).status_code == 200
    assert requests.get(with_docs + "/docs", timeout=10).status_code == 200


def test_a_short_admin_password_is_refused(tmp_path):
    weak = tmp_path / "weak"
    weak.write_text("admin")
    result = central(tmp_path / "central.db", "admin", "set-password", "--password-file", str(weak))
    assert result.returncode == 2 and "at least" in result.stderr
