"""Issue 11.4: bodies are capped per endpoint before they are read; image dimensions are checked
before decoding (the 16000x16000 PNG)."""
from __future__ import annotations

import base64
import http.client
import json
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.security.conftest import RESIDENT_A, Kiosk
from tests.test_central_cli import ROOT, central, wait_for


def huge_png(side: int = 16000) -> bytes:
    """A valid grey PNG of side x side pixels that compresses to a few hundred KB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = zlib.compress(b"".join(b"\x00" + bytes(side) for _ in range(side)), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def served(tmp_path):
    """`central serve` in its own process, so its memory can be measured."""
    db, port_file = tmp_path / "central.db", tmp_path / "port"
    token = central(db, "kiosk-token", "kiosk-a").stdout.strip()
    process = subprocess.Popen([sys.executable, "-m", "central", "--db", str(db), "serve", "--port", "0",
                                "--port-file", str(port_file)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield Kiosk(f"http://127.0.0.1:{int(wait_for(port_file))}", token, "kiosk-a"), process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def test_a_16000_px_png_is_refused_without_the_memory_spike(served):
    kiosk, pid = served
    png = huge_png()
    assert len(png) < 1024 * 1024  # small on the wire
    kiosk.verify(RESIDENT_A)  # the matcher and its cascade are loaded: what follows is the image alone
    before = peak_rss_mb(pid)
    answer = kiosk.call("POST", "/v1/identity/verify", {
        "card": {"id_number": RESIDENT_A}, "face_jpeg_b64": base64.b64encode(png).decode()})
    assert answer.status_code == 200 and answer.json()["match"] is False
    assert "16000x16000" in answer.json()["reason"]
    assert peak_rss_mb(pid) - before < 60  # decoding it would take 256 MB for the grey pixels alone


def raw_post(base_url: str, path: str, token: str, body_chunks, length: int | None) -> tuple[int, bytes]:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if length is not None:
        headers["Content-Length"] = str(length)
    else:
        headers["Transfer-Encoding"] = "chunked"
    conn.putrequest("POST", path)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    try:
        for chunk in body_chunks:
            conn.send(chunk if length is not None else f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        if length is None:
            conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed before the body was all sent
    response = conn.getresponse()
    return response.status, response.read()


def test_a_53_mb_json_body_is_refused_with_413_before_it_is_read(served):
    kiosk, pid = served
    size = 53 * 1024 * 1024
    before = peak_rss_mb(pid)
    status, body = raw_post(kiosk.base_url, "/v1/appeals", kiosk.token, iter([b" " * 65536]), size)
    assert status == 413 and b"larger than" in body
    assert peak_rss_mb(pid) - before < 20


def test_a_chunked_body_over_the_cap_is_cut_off_with_413(served):
    kiosk, _pid = served
    big = json.dumps({"category": "help", "text": "x" * (200 * 1024)}).encode()
    status, _ = raw_post(kiosk.base_url, "/v1/appeals", kiosk.token,
                         (big[i:i + 16384] for i in range(0, len(big), 16384)), None)
    assert status == 413


def test_bodies_within_their_caps_still_pass(kiosk_a):
    applied = kiosk_a.apply(RESIDENT_A)  # applications carry scans: a bigger cap than appeals
    assert applied["status"] == "approved"
    appeal = kiosk_a.call("POST", "/v1/appeals", {"category": "help", "text": "打印机缺纸"},
                          **{"Idempotency-Key": "cap-ok-1"})
    assert appeal.status_code == 201
