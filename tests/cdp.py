"""Just enough of the Chrome DevTools Protocol to drive headless Chromium from a test: start it on
a URL, read the DOM, click, take screenshots.  A WebSocket client in the standard library's terms
(RFC 6455 text frames, client-masked), so no browser-automation package is needed."""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FONTS = Path(__file__).resolve().parent.parent / "assets" / "fonts"


class WebSocket:
    def __init__(self, url: str, timeout: float = 30.0):
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the browser closed the DevTools connection")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
        self._buffer = head.split(b"\r\n\r\n", 1)[1]

    def send(self, text: str) -> None:
        data = text.encode()
        header = bytes([0x81])
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        elif len(data) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(data))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(data))
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the browser closed the DevTools connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def recv(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(length)
            opcode = first & 0x0F
            if opcode in (0x1, 0x0):
                message += payload
                if first & 0x80:
                    return message.decode()
            elif opcode == 0x8:
                raise ConnectionError("the browser closed the DevTools connection")

    def close(self) -> None:
        self.sock.close()


class Browser:
    """Headless Chromium showing ``url``; ``call`` sends a DevTools command to the page."""

    def __init__(self, url: str, profile: Path, size: str = "1400,900"):
        # the machine may have no CJK font: let Chromium see the kiosk's bundled Noto Sans SC/TC too
        profile.mkdir(parents=True, exist_ok=True)
        fonts_conf = profile / "fonts.conf"
        fonts_conf.write_text(f'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                              f'<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
                              f'<dir>{FONTS}</dir><cachedir>{profile / "fontcache"}</cachedir></fontconfig>')
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--no-first-run", f"--user-data-dir={profile}", f"--window-size={size}", "--remote-debugging-port=0",
             url], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "FONTCONFIG_FILE": str(fonts_conf)})
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                raise RuntimeError("chromium exited before DevTools started")
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            port = int(found.group(1)) if found else None
        if port is None:
            raise RuntimeError("chromium did not start DevTools")
        threading.Thread(target=self.process.stderr.read, daemon=True).start()  # never let its log block it
        targets = []
        while not targets and time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
                targets = [t for t in json.load(answer) if t.get("type") == "page"]
            time.sleep(0.1)
        self.ws = WebSocket(targets[0]["webSocketDebuggerUrl"])
        self._id = 0

    def call(self, method: str, **params) -> dict:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def dom(self) -> str:
        return self.evaluate("document.readyState === 'complete' ? document.documentElement.outerHTML : ''") or ""

    def wait_for(self, predicate, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                dom = self.dom()
            except RuntimeError:  # the page is navigating
                dom = ""
            if dom and predicate(dom):
                return dom
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never showed what was expected:\n{dom[-3000:]}")
            time.sleep(0.2)

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
