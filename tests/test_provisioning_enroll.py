"""Enrolment against the real reference platform: success writes everything,
every failure writes nothing."""
from __future__ import annotations

import base64
import os
import stat
import time
import tomllib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.admin import create_enroll_code
from central.testing import run_server
from kiosk import config as cfg
from kiosk.cli import main as kioskctl
from kiosk.menu_bundle import public_raw
from kiosk.platform import PlatformClient
from central.platform_key import PlatformIdentity
from provisioning.enroll import EnrolQr, EnrollError, enroll, parse_enrol_qr

CONFIG = """# technician's note: keep this comment
[kiosk]
id = "unenrolled"
data_dir = "var"
profile = "dev"

[platform]
url = ""
"""


@pytest.fixture
def platform(tmp_path):
    with run_server(tmp_path / "central.db") as server:
        key = base64.b64encode(public_raw(Ed25519PrivateKey.generate().public_key())).decode()
        server.store.set_setting("menu_pubkeys", [key])
        server.menu_key = key
        server.fingerprint = PlatformIdentity.for_store(server.store).fingerprint
        yield server


@pytest.fixture
def kiosk_dir(tmp_path):
    d = tmp_path / "etc-kiosk"
    d.mkdir()
    (d / "kiosk.toml").write_text(CONFIG, encoding="utf-8")
    return d


def snapshot(root):
    return {p.relative_to(root): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def test_enrol_writes_config_token_and_key(platform, kiosk_dir, capsys):
    code = create_enroll_code(platform.store, region="440304")
    status = kioskctl(["enroll", "--platform", platform.base_url, "--code", code, "--yes",
                       "--fingerprint", platform.fingerprint, "--config-out", str(kiosk_dir / "kiosk.toml")])
    out = capsys.readouterr().out
    assert status == 0, out
    config = cfg.load(kiosk_dir / "kiosk.toml")
    assert config.kiosk.id.startswith("kiosk-") and config.kiosk.id in out
    assert config.platform.url == platform.base_url
    assert config.menu.pubkeys == [platform.menu_key]
    assert "# technician's note: keep this comment" in (kiosk_dir / "kiosk.toml").read_text()

    token_file = config.path(config.platform.token_file)
    key_file = config.data_dir / "secrets" / "queue.key"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_bytes()) == 32
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    # The token really is this kiosk's: the platform accepts a heartbeat with it.
    client = PlatformClient.from_config(config)
    reply = client.heartbeat({"kiosk_id": config.kiosk.id, "version": "test", "uptime_s": 1.0})
    assert "server_time" in reply
    assert token_file.read_text() not in out


def test_existing_queue_key_is_kept(platform, kiosk_dir):
    key_file = kiosk_dir / "var" / "secrets" / "queue.key"
    key_file.parent.mkdir(parents=True)
    key_file.write_bytes(b"k" * 32)
    result = enroll(platform.base_url, create_enroll_code(platform.store), kiosk_dir / "kiosk.toml",
                    expected_fingerprint=platform.fingerprint)
    assert not result.queue_key_created and key_file.read_bytes() == b"k" * 32


@pytest.mark.parametrize("case, expected", [
    ("wrong", "unknown enrolment code"),
    ("used", "already used"),
    ("expired", "expired"),
    ("malformed", "not in the expected form"),
])
def test_bad_code_is_one_line_and_changes_nothing(platform, kiosk_dir, capsys, case, expected):
    if case == "wrong":
        code = "ABCD-EFGH-JK"
    elif case == "used":
        code = create_enroll_code(platform.store)
        enroll(platform.base_url, code, kiosk_dir.parent / "other.toml", expected_fingerprint=platform.fingerprint)
    elif case == "expired":
        code = create_enroll_code(platform.store, ttl_s=0.01)
        time.sleep(0.05)
    else:
        code = "x"
    before = snapshot(kiosk_dir)
    status = kioskctl(["enroll", "--platform", platform.base_url, "--code", code, "--yes",
                       "--fingerprint", platform.fingerprint, "--config-out", str(kiosk_dir / "kiosk.toml")])
    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1 and expected in err and err.startswith("kioskctl: enrolment failed:")
    assert snapshot(kiosk_dir) == before


def test_unreachable_platform_changes_nothing(kiosk_dir):
    before = snapshot(kiosk_dir)
    with pytest.raises(EnrollError, match="cannot reach the platform"):
        enroll("http://127.0.0.1:9", "ABCD-EFGH-JK", kiosk_dir / "kiosk.toml", expected_fingerprint="00" * 8)
    assert snapshot(kiosk_dir) == before


def test_qr_fingerprint_mismatch_refuses_and_changes_nothing(platform, kiosk_dir):
    before = snapshot(kiosk_dir)
    with pytest.raises(EnrollError, match="did not prove it holds the key of the fingerprint"):
        enroll(platform.base_url, create_enroll_code(platform.store), kiosk_dir / "kiosk.toml",
               expected_fingerprint="00" * 8)
    assert snapshot(kiosk_dir) == before


def test_qr_payload_round_trip_and_enrolment(platform, kiosk_dir):
    qr = EnrolQr(platform.base_url + "/", create_enroll_code(platform.store), platform.fingerprint)
    parsed = parse_enrol_qr(qr.encode())
    assert parsed == qr
    enroll(parsed.url, parsed.code, kiosk_dir / "kiosk.toml", expected_fingerprint=parsed.fingerprint)
    assert tomllib.loads((kiosk_dir / "kiosk.toml").read_text())["menu"]["pubkeys"] == [platform.menu_key]


@pytest.mark.parametrize("text, expected", [
    ("https://example.org", "not a kiosk enrolment code"),
    ("kiosk-enroll:v1?url=https%3A%2F%2Fp.example&fp=0011223344556677", "no code"),
    ("kiosk-enroll:v1?url=ftp%3A%2F%2Fp&code=A&fp=0011223344556677", "not a web address"),
    ("kiosk-enroll:v1?url=https%3A%2F%2Fp.example&code=A&fp=zz", "malformed key fingerprint"),
])
def test_bad_qr_payloads(text, expected):
    with pytest.raises(EnrollError, match=expected):
        parse_enrol_qr(text)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_target_fails_before_spending_the_code(platform, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "kiosk.toml").write_text(CONFIG)
    locked.chmod(0o500)
    code = create_enroll_code(platform.store)
    with pytest.raises(EnrollError, match="permission denied"):
        enroll(platform.base_url, code, locked / "kiosk.toml", expected_fingerprint=platform.fingerprint)
    assert enroll(platform.base_url, code, tmp_path / "ok.toml", expected_fingerprint=platform.fingerprint).kiosk_id
