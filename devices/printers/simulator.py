"""A simulated ESC/POS receipt printer that speaks the real bytes.

It listens on loopback TCP (like a JetDirect printer on port 9100) or on a
pseudo-terminal (like a serial printer), answers DLE EOT n in real time with
real status bytes, and interprets everything else the way a printer does:
text in its Chinese mode, alignment, bold, double size, QR codes (native
``GS ( k`` or a ``GS v 0`` raster image), feeds and cuts.
Faults are injected by flipping attributes (``paper_near_end``,
``paper_out``, ``cover_open``, ``offline``, ``cutter_error``, ``no_reply``),
``paper_out_after_lines(n)`` runs the roll out mid-receipt, and ``unplug()``
drops the link.  What was printed renders to a PNG, so tests and reviewers
look at the receipt the driver's bytes would produce.
"""
from __future__ import annotations

import io
import os
import select
import socket
import threading
import tty
from dataclasses import dataclass, field

from devices.printers.paper import CELL, COLUMNS, DOT_WIDTH

LINE_HEIGHT = 30           # ESC 3 30 as the receipt sets it


@dataclass
class Line:
    align: int = 0
    runs: list = field(default_factory=list)      # (text, bold, double)
    qr: tuple | None = None                       # (content, module size)
    raster: tuple | None = None                   # (width in bytes, height in dots, bits) of GS v 0
    cut: bool = False

    @property
    def double(self) -> bool:
        return any(d for _, _, d in self.runs)


class Interpreter:
    """Incremental ESC/POS parser; ``status_reply(n)`` answers DLE EOT n."""

    def __init__(self, encoding: str = "gb18030", columns: int = 48, status_reply=None, can_print=None):
        self.encoding, self.columns = encoding, columns
        self.status_reply = status_reply or (lambda n: None)
        self.can_print = can_print or (lambda: True)
        self.jobs: list[list[Line]] = [[]]
        self.unknown: list[bytes] = []
        self.lost_lines = 0
        self._pending = bytearray()
        self._reset()

    def _reset(self) -> None:
        self.align, self.bold, self.double, self.chinese = 0, False, False, False
        self._runs: list = []
        self._qr_store = b""
        self._qr_size = 3

    # -- parsing -------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        """Consume bytes; returns the real-time replies to send back."""
        self._pending += data
        replies = bytearray()
        while self._pending:
            used = self._step(self._pending, replies)
            if used == 0:
                break                   # incomplete command or text: wait for more bytes
            del self._pending[:used]
        return bytes(replies)

    def _step(self, b: bytearray, replies: bytearray) -> int:
        c = b[0]
        if c == 0x10:
            if len(b) < 3:
                return 0
            if b[1] == 0x04:
                reply = self.status_reply(b[2])
                if reply is not None:
                    replies.append(reply)
                return 3
            return self._unknown(b[:2])
        if c == 0x1B:
            if len(b) < 2:
                return 0
            cmd = b[1]
            if cmd == ord("@"):
                self._end_line(force=False)
                self._reset()
                return 2
            if cmd in b"aEd3!-Jt":
                if len(b) < 3:
                    return 0
                n = b[2]
                if cmd == ord("a"):
                    self.align = min(n & 0x03, 2) if n < 48 else min(n - 48, 2)
                elif cmd == ord("E"):
                    self.bold = bool(n & 1)
                elif cmd == ord("!"):           # print mode: bits 4 + 5 double height and width
                    self.bold, self.double = bool(n & 0x08), n & 0x30 == 0x30
                elif cmd == ord("d"):
                    self._end_line(force=False)
                    for _ in range(n):
                        self._emit(Line(self.align))
                return 3
            if cmd == ord("2"):
                return 2
            return self._unknown(b[:2])
        if c == 0x1D:
            if len(b) < 2:
                return 0
            cmd = b[1]
            if cmd == ord("!"):
                if len(b) < 3:
                    return 0
                self.double = b[2] & 0x11 == 0x11
                return 3
            if cmd == ord("V"):
                if len(b) < 3:
                    return 0
                size = 4 if b[2] in (65, 66) else 3
                if len(b) < size:
                    return 0
                self._end_line(force=False)
                self._emit(Line(cut=True))
                if self.can_print():
                    self.jobs.append([])
                return size
            if cmd == ord("v") and len(b) >= 3 and b[2] == ord("0"):
                if len(b) < 8:
                    return 0
                width_bytes, height = b[4] | b[5] << 8, b[6] | b[7] << 8
                if len(b) < 8 + width_bytes * height:
                    return 0
                self._end_line(force=False)
                self._emit(Line(self.align, raster=(width_bytes, height, bytes(b[8:8 + width_bytes * height]))))
                return 8 + width_bytes * height
            if cmd == ord("v"):
                return 0 if len(b) < 3 else self._unknown(b[:3])
            if cmd == ord("(") and len(b) >= 5 and b[2] == ord("k"):
                n = b[3] | b[4] << 8
                if len(b) < 5 + n:
                    return 0
                self._qr(bytes(b[5:5 + n]))
                return 5 + n
            if cmd == ord("("):
                return 0 if len(b) < 5 else self._unknown(b[:3])
            return self._unknown(b[:2])
        if c == 0x1C:
            if len(b) < 2:
                return 0
            if b[1] in b"&.":
                self.chinese = b[1] == ord("&")
                return 2
            return self._unknown(b[:2])
        if c == 0x0A:
            self._end_line(force=True)
            return 1
        if c == 0x0D:
            return 1
        if c < 0x20 or c == 0x7F:
            return self._unknown(b[:1])
        end = 0
        while end < len(b) and b[end] >= 0x20 and b[end] != 0x7F:
            end += 1
        if end == len(b):
            return 0                    # text continues in the next chunk (or ends at LF)
        encoding = self.encoding if self.chinese or self.encoding == "utf-8" else "cp437"
        self._runs.append((bytes(b[:end]).decode(encoding, errors="replace"), self.bold, self.double))
        return end

    def _unknown(self, command: bytes) -> int:
        self.unknown.append(bytes(command))
        return len(command)

    def _qr(self, body: bytes) -> None:
        fn = body[1] if len(body) > 1 else 0
        if fn == 0x43 and len(body) > 2:
            self._qr_size = body[2]
        elif fn == 0x50:
            self._qr_store = body[3:]
        elif fn == 0x51:
            self._emit(Line(self.align, qr=(self._qr_store.decode("utf-8", "replace"), self._qr_size)))

    def _end_line(self, force: bool) -> None:
        if self._runs or force:
            self._emit(Line(self.align, self._runs))
        self._runs = []

    def _emit(self, line: Line) -> None:
        if self.can_print():
            self.jobs[-1].append(line)
        else:
            self.lost_lines += 1

    # -- results ---------------------------------------------------------------
    def text(self, job: int = -1) -> str:
        return "\n".join("".join(t for t, _, _ in line.runs) for line in self.job(job))

    def job(self, index: int = -1) -> list[Line]:
        done = [j for j in self.jobs if j]
        return done[index] if done else []


def render_lines(lines: list[Line], width_mm: int = 80) -> bytes:
    """PNG of printed lines: 12-dot cells, CJK two cells wide, as the printer lays them out."""
    import qrcode
    from PIL import Image, ImageDraw

    from devices.printers.fonts import pil_font

    width = DOT_WIDTH[width_mm]
    margin = 16
    blocks = []
    for line in lines:
        if line.qr:
            qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=line.qr[1], border=1)
            qr.add_data(line.qr[0])
            blocks.append((line, qr.make_image(fill_color="black", back_color="white").convert("L")))
        elif line.raster:
            width_bytes, rows, bits = line.raster      # 1 = a black dot, most significant bit leftmost
            blocks.append((line, Image.frombytes("1", (width_bytes * 8, rows), bits).convert("L")
                           .point(lambda v: 255 - v)))
        else:
            blocks.append((line, None))
    height = sum(img.height + 8 if img else (24 if line.cut else LINE_HEIGHT * (2 if line.double else 1))
                 for line, img in blocks) + 2 * margin
    page = Image.new("L", (width + 2 * margin, height), 255)
    draw = ImageDraw.Draw(page)
    y = margin
    for line, img in blocks:
        if img is not None:
            x = margin + {0: 0, 1: (width - img.width) // 2, 2: width - img.width}[line.align]
            page.paste(img, (x, y))
            y += img.height + 8
            continue
        if line.cut:
            for x in range(0, page.width, 12):
                draw.line((x, y + 12, x + 6, y + 12), fill=120)
            y += 24
            continue
        scale = 2 if line.double else 1
        cells = [(ch, bold, 2 if ord(ch) >= 0x80 else 1) for text, bold, _ in line.runs for ch in text]
        used = sum(w for _, _, w in cells) * CELL * scale
        x = margin + {0: 0, 1: max(0, (width - used) // 2), 2: max(0, width - used)}[line.align]
        for ch, bold, w in cells:
            font = pil_font(24 * scale, bold)
            cell = w * CELL * scale
            glyph_w = draw.textlength(ch, font=font)
            draw.text((x + (cell - glyph_w) / 2, y + 3 * scale), ch, font=font, fill=0)
            x += cell
        y += LINE_HEIGHT * scale
    out = io.BytesIO()
    page.save(out, "PNG")
    return out.getvalue()


def render_png(data: bytes, width_mm: int = 80, encoding: str = "gb18030") -> bytes:
    """Interpret an ESC/POS byte stream (no printer needed) and render its last receipt."""
    interp = Interpreter(encoding, COLUMNS[width_mm])
    interp.feed(data)
    return render_lines(interp.job(-1), width_mm)


class SimulatedPrinter:
    """The printer: status flags, a transport, and an interpreter of what it receives."""

    def __init__(self, encoding: str = "gb18030", width_mm: int = 80):
        self.width_mm = width_mm
        self.paper_near_end = self.paper_out = self.cover_open = False
        self.offline = self.cutter_error = self.no_reply = False
        self.received = bytearray()
        self.interpreter = Interpreter(encoding, COLUMNS[width_mm], self._status_byte, self._printing)
        self._lines_left: int | None = None
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._clients: list[socket.socket] = []
        self._address: tuple[str, int] | None = None
        self._master: int | None = None
        self._stop = threading.Event()

    # -- faults ----------------------------------------------------------------
    def paper_out_after_lines(self, lines: int) -> None:
        """The roll runs out after ``lines`` more printed lines."""
        self._lines_left = lines

    def _printing(self) -> bool:
        if self.paper_out or self.cover_open or self.offline:
            return False
        if self._lines_left is not None:
            if self._lines_left <= 0:
                self.paper_out, self._lines_left = True, None
                return False
            self._lines_left -= 1
        return True

    def _status_byte(self, n: int) -> int | None:
        if self.no_reply:
            return None
        stopped = self.paper_out or self.cover_open or self.offline
        value = 0x12
        if n == 1:
            value |= 0x08 if stopped else 0
        elif n == 2:
            value |= (0x04 if self.cover_open else 0) | (0x20 if self.paper_out else 0) \
                | (0x40 if self.cutter_error else 0)
        elif n == 3:
            value |= 0x08 if self.cutter_error else 0
        elif n == 4:
            value |= (0x0C if self.paper_near_end else 0) | (0x60 if self.paper_out else 0)
        else:
            return None
        return value

    def receive(self, data: bytes) -> bytes:
        """What a transport hands over from the host; returns the real-time replies to send back."""
        with self._lock:
            self.received += data
            return self.interpreter.feed(data)

    # -- results -----------------------------------------------------------------
    @property
    def receipts(self) -> list[list[Line]]:
        return [j for j in self.interpreter.jobs if j]

    def text(self, job: int = -1) -> str:
        return self.interpreter.text(job)

    def render_png(self, job: int = -1) -> bytes:
        return render_lines(self.interpreter.job(job), self.width_mm)

    # -- transports --------------------------------------------------------------
    def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen like a network printer; returns (host, port)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(4)
        self._listener, self._address = listener, listener.getsockname()
        self._stop.clear()
        threading.Thread(target=self._accept_loop, args=(listener,), name="sim-printer", daemon=True).start()
        return self._address

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self._clients.append(client)
            threading.Thread(target=self._client_loop, args=(client,), daemon=True).start()

    def _client_loop(self, client: socket.socket) -> None:
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    return
                reply = self.receive(data)
                if reply:
                    client.sendall(reply)
        except OSError:
            return
        finally:
            client.close()

    def serve_pty(self) -> str:
        """Appear as a serial printer on a pseudo-terminal; returns the device path."""
        master, slave = os.openpty()
        tty.setraw(slave)                 # no echo, no newline translation: bytes as sent
        self._master, self._slave = master, slave
        threading.Thread(target=self._pty_loop, args=(master,), name="sim-printer-pty", daemon=True).start()
        return os.ttyname(slave)

    def _pty_loop(self, master: int) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], 0.2)
                if not ready:
                    continue
                reply = self.receive(os.read(master, 65536))
                if reply:
                    os.write(master, reply)
            except OSError:
                return

    def unplug(self) -> None:
        """The cable is pulled: connections drop and new ones are refused."""
        self._stop.set()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)   # wakes the blocked accept() and frees the port
            except OSError:
                pass
            self._listener.close()
        for client in self._clients:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()
        self._clients.clear()
        if self._master is not None:
            os.close(self._master)
            os.close(self._slave)
            self._master = None

    def replug(self) -> None:
        """Back on the same address (TCP)."""
        if self._address is None:
            raise RuntimeError("replug is supported for the TCP transport")
        self.serve_tcp(*self._address)

    close = unplug
