"""A forged enrolment QR must not take a kiosk over (issue 12.4).

The impostor is a real HTTP server on loopback.  It knows everything public
about the real platform -- its identity key, its menu key -- and echoes them;
what it cannot do is sign the kiosk's fresh challenge with the platform's key."""
from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.admin import create_enroll_code
from central.platform_key import PlatformIdentity
from central.testing import run_server
from kiosk.cli import main as kioskctl
from kiosk.menu_bundle import public_raw
from provisioning.enroll import EnrollError, enroll

CONFIG = """[kiosk]
id = "unenrolled"
data_dir = "var"
profile = "{profile}"
"""


@pytest.fixture
def platform(tmp_path):
    with run_server(tmp_path / "central.db") as server:
        key = base64.b64encode(public_raw(Ed25519PrivateKey.generate().public_key())).decode()
        server.store.set_setting("menu_pubkeys", [key])
        server.identity = PlatformIdentity.for_store(server.store)
        yield server


def kiosk_dir(tmp_path, profile="dev"):
    d = tmp_path / "etc-kiosk"
    d.mkdir(exist_ok=True)
    (d / "kiosk.toml").write_text(CONFIG.format(profile=profile), encoding="utf-8")
    return d


def snapshot(root):
    return {p.relative_to(root): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.fixture
def impostor(platform):
    """Answers every enrolment with the real platform's public keys and a signature of its own."""
    own_key = Ed25519PrivateKey.generate()
    real_key = platform.identity.public_b64

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.server.requests.append(body)
            answer = {"kiosk_id": "kiosk-owned", "token": "impostor-token", "region": "440304",
                      "menu_pubkeys": [real_key], "platform_key": real_key,
                      "signature": base64.b64encode(own_key.sign(body.get("challenge", "").encode())).decode()}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    server.server_close()


def test_impostor_echoing_the_real_keys_is_refused(impostor, platform, tmp_path):
    d = kiosk_dir(tmp_path)
    before = snapshot(d)
    with pytest.raises(EnrollError, match="did not prove"):
        enroll(impostor.url, "ABCD-EFGH-JK", d / "kiosk.toml", expected_fingerprint=platform.identity.fingerprint)
    assert snapshot(d) == before
    challenge = impostor.requests[0]["challenge"]
    assert len(base64.b64decode(challenge)) == 32


def test_each_enrolment_sends_a_fresh_challenge(impostor, platform, tmp_path):
    d = kiosk_dir(tmp_path)
    for _ in range(2):
        with pytest.raises(EnrollError):
            enroll(impostor.url, "ABCD-EFGH-JK", d / "kiosk.toml", expected_fingerprint=platform.identity.fingerprint)
    assert impostor.requests[0]["challenge"] != impostor.requests[1]["challenge"]


def test_real_platform_proves_its_key_and_the_kiosk_enrols(platform, tmp_path, capsys):
    d = kiosk_dir(tmp_path)
    code = create_enroll_code(platform.store)
    result = enroll(platform.base_url, code, d / "kiosk.toml", expected_fingerprint=platform.identity.fingerprint)
    assert result.kiosk_id.startswith("kiosk-")


def test_central_enroll_code_prints_the_identity_fingerprint(platform, tmp_path, capsys):
    from central.cli import main as central
    assert central(["--db", str(tmp_path / "central.db"), "enroll-code"]) == 0
    assert f"fingerprint {platform.identity.fingerprint}" in capsys.readouterr().out
    key_file = tmp_path / "central.identity"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_the_fingerprint_is_required(platform, tmp_path):
    with pytest.raises(EnrollError, match="fingerprint"):
        enroll(platform.base_url, create_enroll_code(platform.store), kiosk_dir(tmp_path) / "kiosk.toml")


@pytest.mark.parametrize("profile, url, expected", [
    ("production", "http://127.0.0.1:{port}", "https"),
    ("dev", "http://192.0.2.7:{port}", "loopback"),
])
def test_plain_http_is_refused_before_the_code_is_spent(platform, tmp_path, profile, url, expected):
    d = kiosk_dir(tmp_path, profile)
    before = snapshot(d)
    code = create_enroll_code(platform.store)
    port = platform.base_url.rsplit(":", 1)[1]
    with pytest.raises(EnrollError, match=expected):
        enroll(url.format(port=port), code, d / "kiosk.toml", expected_fingerprint=platform.identity.fingerprint)
    assert snapshot(d) == before
    assert enroll(platform.base_url, code, d.parent / "dev.toml", expected_fingerprint=platform.identity.fingerprint)


def test_kioskctl_shows_the_host_and_asks_before_enrolling(platform, tmp_path, capsys, monkeypatch):
    d = kiosk_dir(tmp_path)
    code = create_enroll_code(platform.store)
    host = platform.base_url.split("//", 1)[1]
    args = ["enroll", "--platform", platform.base_url, "--code", code, "--fingerprint",
            platform.identity.fingerprint, "--config-out", str(d / "kiosk.toml")]
    before = snapshot(d)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("n\n"))
    assert kioskctl(args) == 1
    captured = capsys.readouterr()
    assert host in captured.out and "nothing changed" in captured.err
    assert snapshot(d) == before
    assert kioskctl(args + ["--yes"]) == 0   # the code was not spent by the refusal
