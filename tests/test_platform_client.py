"""The platform client against the real reference server: typed errors, Retry-After,
timeouts, cut connections, TLS verification, and no token or PII in the logs."""
from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import logging
import time
import uuid

import pytest

from central.faults import Faults
from central.testing import run_server
from kiosk.platform import (AuthError, FinalError, PlatformClient, RetryableError, parse_retry_after,
                            save_token, token_path)

ID_NUMBER = "11010519491231002X"
NAME = "张秀兰"


def application(service_id: str = "birth-registration", page: bytes = b"scan") -> dict:
    return {"service_id": service_id, "applicant": {"name": NAME, "id_number": ID_NUMBER},
            "form": {"phone": "13800138000"},
            "materials": [{"id": "marriage-certificate", "name": "结婚证",
                           "pages": [{"sha256": hashlib.sha256(page).hexdigest(),
                                      "content_b64": base64.b64encode(page).decode()}]}],
            "delivery": {"method": "self_print"}, "submitted_at": "2026-11-22T09:30:00+08:00", "offline": True}


@pytest.fixture
def platform(tmp_path):
    with run_server(tmp_path / "central.db") as running:
        yield running


@pytest.fixture
def client(platform):
    return PlatformClient(platform.base_url, platform.token, timeout=5)


def test_retry_after_parsing():
    now = 1_800_000_000.0
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), now) == pytest.approx(90)
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now) == 0  # past: now
    assert parse_retry_after("-5", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("", now) is None
    assert parse_retry_after(None, now) is None


@pytest.mark.parametrize("status", [500, 503, 429])
def test_injected_errors_are_retryable_with_retry_after_seconds(platform, client, status):
    platform.set_faults(fail_next=1, error_status=status, retry_after=7)
    with pytest.raises(RetryableError) as caught:
        client.create_application(application(), str(uuid.uuid4()))
    assert caught.value.status == status and caught.value.retry_after == 7
    assert platform.count("applications") == 0


def test_retry_after_as_http_date(platform, client):
    platform.set_faults(fail_next=1, error_status=503, retry_after=40, retry_after_date=True)
    with pytest.raises(RetryableError) as caught:
        client.heartbeat({"kiosk_id": platform.kiosk_id, "version": "t", "uptime_s": 1})
    assert 37 <= caught.value.retry_after <= 41  # whole seconds in an HTTP date


def test_timeout_is_retryable(platform):
    platform.set_faults(latency_s=1.0)
    slow = PlatformClient(platform.base_url, platform.token, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(RetryableError, match="timed out"):
        slow.heartbeat({"kiosk_id": platform.kiosk_id, "version": "t", "uptime_s": 1})
    assert time.monotonic() - started < 1.0


def test_a_malformed_platform_url_is_final():
    with pytest.raises(FinalError, match="not a valid http"):
        PlatformClient("platform.example.gov.cn", "t").heartbeat({})


def test_connection_refused_is_retryable():
    client = PlatformClient("http://127.0.0.1:9", "t", timeout=2)  # discard port: nothing listens
    with pytest.raises(RetryableError, match="connection problem"):
        client.heartbeat({})


def test_cut_after_commit_then_retry_replays_the_same_application(platform, client):
    """The platform commits, the answer is lost: the retry (same key) gets the first answer."""
    key = str(uuid.uuid4())
    platform.set_faults(drop_after_rate=1.0)
    with pytest.raises(RetryableError):
        client.create_application(application(), key)
    assert platform.count("applications") == 1
    platform.set_faults()
    first = client.create_application(application(), key)
    again = client.create_application(application(), key)
    assert first == again and platform.count("applications") == 1


def test_cut_before_handling_stores_nothing(platform, client):
    platform.set_faults(drop_rate=1.0)
    with pytest.raises(RetryableError):
        client.create_application(application(), str(uuid.uuid4()))
    assert platform.count("applications") == 0


def test_same_key_different_body_is_final(client):
    key = str(uuid.uuid4())
    client.create_application(application(), key)
    with pytest.raises(FinalError) as caught:
        client.create_application(application(page=b"another scan"), key)
    assert caught.value.status == 422 and not isinstance(caught.value, RetryableError)


def test_validation_errors_are_final_and_name_the_field(client):
    bad = application()
    del bad["applicant"]["id_number"]
    with pytest.raises(FinalError) as caught:
        client.create_application(bad, str(uuid.uuid4()))
    assert caught.value.status == 422 and "applicant.id_number" in str(caught.value)


def test_auth_errors(platform):
    with pytest.raises(AuthError) as caught:
        PlatformClient(platform.base_url, "not-a-token").heartbeat({})
    assert caught.value.status == 401
    with pytest.raises(AuthError):
        PlatformClient(platform.base_url, None).heartbeat({})


def test_submit_dispatches_each_kind(platform, client):
    key = str(uuid.uuid4())
    created = client.submit("application", application(), key)
    assert created["status"] == "approved" and created["kind"] == "immediate"
    rating = client.submit("rating", {"application_key": key, "level": 5, "comment": ""}, str(uuid.uuid4()))
    assert rating["application_no"] == created["application_no"] and not rating["follow_up"]
    appeal = client.submit("appeal", {"category": "suggestion", "text": "请在大厅增加座椅"}, str(uuid.uuid4()))
    assert appeal["appeal_no"].startswith("SQ")
    document = created["documents"][0]
    report = {"document_id": document["document_id"], "print_token": document["print_token"], "result": "printed"}
    assert client.submit("print_report", report, str(uuid.uuid4()))["status"] == "printed"
    with pytest.raises(FinalError, match="unknown item kind"):
        client.submit("fax", {}, str(uuid.uuid4()))
    with pytest.raises(FinalError, match="document_id"):
        client.submit("print_report", {"result": "printed"}, str(uuid.uuid4()))


def test_wrong_print_token_is_final_not_retried_forever(client):
    document = client.create_application(application(), str(uuid.uuid4()))["documents"][0]
    with pytest.raises(FinalError) as caught:
        client.report_printed(document["document_id"], "forged-token", "printed")
    assert caught.value.status == 409 and not isinstance(caught.value, RetryableError)


def test_menu_etag_round_trip(platform, client):
    from central.admin import publish_menu
    with pytest.raises(FinalError) as caught:
        client.get_menu()
    assert caught.value.status == 404
    publish_menu(platform.store, b'{"version": 3}')
    body, etag = client.get_menu()
    assert body == b'{"version": 3}' and etag
    assert client.get_menu(etag) == (None, etag)
    publish_menu(platform.store, b'{"version": 4}')
    assert client.get_menu(etag)[0] == b'{"version": 4}'


def test_no_token_and_no_personal_data_in_logs(platform, client, caplog):
    caplog.set_level(logging.DEBUG)
    platform.set_faults(fail_next=1, error_status=503, retry_after=1)
    with pytest.raises(RetryableError):
        client.create_application(application(), str(uuid.uuid4()))
    client.create_application(application(), str(uuid.uuid4()))
    from tests.test_central_intake import present
    grant = present(client, ID_NUMBER)
    client.reusable_materials(grant)
    client.query_documents(grant)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /v1/applications" in text  # the client does log, just not secrets
    for secret in (platform.token, grant, ID_NUMBER, NAME, "13800138000"):
        assert secret not in text
    assert platform.token not in repr(client)


def test_from_config_reads_url_token_and_timeout(make_config, tmp_path):
    config = make_config('[platform]\nurl = "https://platform.example.gov.cn/"\ntimeout_s = 3.5\n'
                         f'ca_bundle = "{tmp_path / "ca.pem"}"\n')
    save_token(config, "secret-token-value")
    assert (token_path(config).stat().st_mode & 0o777) == 0o600
    client = PlatformClient.from_config(config)
    assert client.base_url == "https://platform.example.gov.cn"
    assert client.token == "secret-token-value" and client.timeout == 3.5
    assert client.verify == str(tmp_path / "ca.pem")
    token_path(config).unlink()
    assert client.token is None  # the file is the source: gone, no token
    save_token(config, "re-enrolled-token")
    assert client.token == "re-enrolled-token"  # picked up without a new client
    client.token = "explicit"
    save_token(config, "ignored-now")
    assert client.token == "explicit"
    local = PlatformClient.from_config(make_config("[platform]\nlocal_port = 18765\n", name="b.toml"))
    assert local.base_url == "http://127.0.0.1:18765" and local.verify is True


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_tls_is_verified_against_the_configured_ca(tmp_path):
    from central.admin import issue_kiosk_token
    from central.app import create_app
    from central.storage import Store
    from central.testing import ServerThread
    cert, key = _self_signed(tmp_path)
    store = Store(tmp_path / "tls.db")
    token = issue_kiosk_token(store, "tls-kiosk")
    server = ServerThread(create_app(store), ssl_certfile=cert, ssl_keyfile=key).start()
    try:
        url = f"https://127.0.0.1:{server.port}"
        beat = {"kiosk_id": "tls-kiosk", "version": "t", "uptime_s": 1}
        with pytest.raises(RetryableError, match="TLS verification failed"):
            PlatformClient(url, token, timeout=5).heartbeat(beat)  # system CAs do not know it
        assert "server_time" in PlatformClient(url, token, ca_bundle=cert, timeout=5).heartbeat(beat)
    finally:
        server.stop()
        store.close()


def test_faults_validation():
    with pytest.raises(ValueError, match="unknown fault"):
        Faults.from_dict({"latency": 1})
    with pytest.raises(ValueError, match="error_rate"):
        Faults.from_dict({"error_rate": 2})


def test_reads_without_a_grant_raise_presence_required_not_auth_error(platform, client):
    from kiosk.platform import AuthError, PresenceRequired
    with pytest.raises(PresenceRequired) as caught:
        client.query_documents("not-a-grant")
    assert caught.value.status == 403 and not isinstance(caught.value, AuthError)  # the token is fine
    created = client.create_application(application(), str(uuid.uuid4()))
    grant = client.grant_by_pickup(created["pickup_code"], ID_NUMBER)
    [document] = client.query_documents(grant)
    assert document["document_id"] == created["documents"][0]["document_id"]
    assert client.get_document(document["document_id"], grant)["data"]["holder_name"] == NAME
