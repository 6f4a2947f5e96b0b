"""Licences and certificates on A4: template rendering and the printer device.

A template (assets/templates/<id>.json) places each field in millimetres on
pre-printed security stock (套打): on such stock only the values, the
verification QR and the print serial are printed; on plain paper (the file
backend, or ``preprinted_stock = false``) the form itself is drawn too.
Per-kiosk calibration offsets shift everything, because a printer's feed is
what is off, not the form.  The CJK font is embedded (see fonts.py).

``LicencePrinter.print_document(doc, print_token)`` goes through the print
journal, so one print token is printed at most once (see journal.py).
"""
from __future__ import annotations

import io
import json
import logging
import threading
import time
from pathlib import Path

from devices.base import Device, State
from common.events import EventBus
from common.paths import ASSETS
from devices.printers.common import PrinterError, PrintResult
from devices.printers.cups_backend import CupsBackend, FileBackend
from devices.printers.fonts import outline_glyphs, pdf_fonts
from devices.printers.journal import COMPLETED, JOURNAL_DAYS, PrintJournal
from devices.printers.printable import printable

log = logging.getLogger(__name__)

TEMPLATE_DIR = ASSETS / "templates"
MM = 72 / 25.4
MIN_SIZE_PT = 7.0


def load_template(template_id: str, directory: Path = TEMPLATE_DIR) -> dict:
    if not template_id or not all(c.isalnum() or c in "_-" for c in template_id):
        raise PrinterError("bad_document", f"document names no valid template ({template_id!r})")
    path = Path(directory) / f"{template_id}.json"
    if not path.exists():
        raise PrinterError("bad_document", f"no licence template {template_id!r} in {directory}")
    return json.loads(path.read_text(encoding="utf-8"))


def _values(doc: dict, template: dict) -> dict[str, str]:
    """Field values, sanitised; a missing required field is a clear error, never a blank licence."""
    given = doc.get("fields") or {}
    values, missing = {}, []
    for spec in template["fields"]:
        value = printable(given.get(spec["key"], spec.get("default", "")))
        if not value and spec.get("required"):
            missing.append(spec["key"])
        values[spec["key"]] = value
    if missing:
        raise PrinterError("bad_document", f"document {doc.get('document_id', '?')} lacks {', '.join(missing)}")
    return values


def render_pdf(doc: dict, print_token: str = "", *, draw_stock: bool = True, offset_mm: tuple[float, float] = (0, 0),
               font_cache: Path, template_dir: Path = TEMPLATE_DIR) -> bytes:
    """One document as PDF bytes (A4, CJK font embedded)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    template = load_template(doc.get("template", ""), template_dir)
    values = _values(doc, template)
    stock = template.get("stock", {}) if draw_stock else {}
    serial = template.get("serial")
    serial_text = f"{serial['label']}：{print_token[:16]}" if serial and print_token else ""
    all_text = "".join(values.values()) + "".join(t["text"] for t in stock.get("texts", ())) + serial_text
    font = pdf_fonts(str(font_cache)).font_for(all_text)

    page_w, page_h = template["page"]["width_mm"] * MM, template["page"]["height_mm"] * MM
    dx, dy = offset_mm[0] * MM, -offset_mm[1] * MM
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(page_w, page_h), pageCompression=1, invariant=1,
                        initialFontName=font, initialFontSize=10)
    pdf.setTitle(printable(doc.get("title")) or template["title"])
    pdf.setCreator("civic-kiosk")

    def at(x_mm: float, y_mm: float) -> tuple[float, float]:
        return x_mm * MM + dx, page_h - y_mm * MM + dy

    def text(value: str, x_mm: float, y_mm: float, size: float, align: str = "left", bold: bool = False,
             spacing: float = 0.0) -> None:
        x, y = at(x_mm, y_mm)
        width = measure(value, size) + spacing * max(len(value) - 1, 0)
        x -= {"left": 0, "center": width / 2, "right": width}[align]
        for run in _runs(value):
            if run[0] > "\uffff":          # beyond the BMP: reportlab cannot encode it, draw the outline
                for ch in run:
                    x += outline_glyphs().draw(pdf, ch, x, y, size) + spacing
                continue
            pdf.saveState()          # render mode and line width are graphics state: keep them local
            obj = pdf.beginText(x, y)
            obj.setFont(font, size)
            obj.setCharSpace(spacing)
            if bold:                 # one embedded face: bold = outline stroked as well as filled
                obj.setTextRenderMode(2)
                pdf.setLineWidth(size / 30)
            obj.textOut(run)
            pdf.drawText(obj)
            pdf.restoreState()
            x += stringWidth(run, font, size) + spacing * len(run)

    def measure(value: str, size: float) -> float:
        return sum(stringWidth(run, font, size) if run[0] <= "\uffff"
                   else sum(outline_glyphs().advance(ch, size) for ch in run) for run in _runs(value))

    for box in stock.get("boxes", ()):
        x, y = at(box["x_mm"], box["y_mm"] + box["h_mm"])
        pdf.setLineWidth(box.get("line_pt", 1))
        pdf.rect(x, y, box["w_mm"] * MM, box["h_mm"] * MM)
    pdf.setLineWidth(1)
    for item in stock.get("texts", ()):
        text(item["text"], item["x_mm"], item["y_mm"], item["size_pt"], item.get("align", "left"),
             item.get("bold", False), item.get("spacing_pt", 0.0))

    for spec in template["fields"]:
        value = values[spec["key"]]
        if not value:
            continue
        size, lines = _fit(value, spec, measure)
        leading = size * spec.get("leading", 1.3) / MM
        for i, line in enumerate(lines):
            indent = spec.get("first_indent_mm", 0) if i == 0 else 0
            text(line, spec["x_mm"] + indent, spec["y_mm"] + i * leading, size, spec.get("align", "left"),
                 spec.get("bold", False))

    qr_spec = template.get("qr")
    qr_content = printable(doc.get(qr_spec["key"])) if qr_spec else ""
    if qr_content:
        _draw_qr(pdf, qr_content, *at(qr_spec["x_mm"], qr_spec["y_mm"] + qr_spec["size_mm"]), qr_spec["size_mm"] * MM)
    if serial_text:
        text(serial_text, serial["x_mm"], serial["y_mm"], serial["size_pt"])
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _fit(value: str, spec: dict, measure) -> tuple[float, list[str]]:
    """Shrink (not below 7 pt) and wrap so the value stays inside its box on the form."""
    width = spec.get("max_width_mm", 150) * MM
    max_lines = spec.get("max_lines", 1)
    indent = spec.get("first_indent_mm", 0) * MM
    size = float(spec["size_pt"])
    while True:
        lines, line = [], ""
        for ch in value:
            limit = width - (indent if not lines else 0)
            if measure(line + ch, size) > limit and line:
                lines.append(line)
                line = ch
            else:
                line += ch
        lines.append(line)
        if len(lines) <= max_lines or size <= MIN_SIZE_PT:
            if len(lines) > max_lines:
                raise PrinterError("bad_document", f"field {spec['key']} does not fit its box on the form")
            return size, lines
        size = max(MIN_SIZE_PT, size - 0.5)


def _runs(value: str) -> list[str]:
    """Split text into runs inside and outside the Basic Multilingual Plane."""
    runs: list[str] = []
    for ch in value:
        if runs and (runs[-1][0] > "\uffff") == (ch > "\uffff"):
            runs[-1] += ch
        else:
            runs.append(ch)
    return runs


def _draw_qr(pdf, content: str, x: float, y: float, size: float) -> None:
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(content)
    matrix = qr.get_matrix()
    cell = size / len(matrix)
    pdf.setFillGray(0)
    for row, bits in enumerate(matrix):
        col = 0
        while col < len(bits):          # one rectangle per run of dark modules
            if not bits[col]:
                col += 1
                continue
            start = col
            while col < len(bits) and bits[col]:
                col += 1
            pdf.rect(x + start * cell, y + size - (row + 1) * cell, (col - start) * cell, cell, stroke=0, fill=1)


class LicencePrinter(Device):
    """A4 printer behind a backend (CUPS or files) with the exactly-once journal."""

    kind = "licence_printer"
    poll_interval = 5.0
    job_timeout = 180.0

    def __init__(self, role: str, bus: EventBus | None, backend, journal_path: Path, font_cache: Path,
                 offset_mm: tuple[float, float] = (0.0, 0.0), draw_stock: bool = True,
                 template_dir: Path = TEMPLATE_DIR):
        super().__init__(role, bus)
        self.backend = backend
        self.journal = PrintJournal(journal_path)
        self.font_cache = Path(font_cache)
        self.offset_mm, self.draw_stock, self.template_dir = offset_mm, draw_stock, template_dir
        self._printing = threading.Lock()
        self._next_expiry = 0.0

    # -- Device hooks --------------------------------------------------------------
    def _connect(self) -> None:
        self.prepare_fonts(wait=False)   # the one-time font build, never inside a resident's print
        self.backend.check()
        self.recover()
        self._refresh()

    def _poll(self) -> None:
        if not self._printing.locked():
            self._refresh()
            if time.monotonic() >= self._next_expiry:   # retention, hourly: kiosks run for months
                self._next_expiry = time.monotonic() + 3600
                if self.journal.expire():
                    log.info("print journal: settled jobs older than %d days forgotten", JOURNAL_DAYS)

    def _refresh(self) -> None:
        try:
            state, reason, code = self.backend.status()
        except PrinterError as exc:
            if exc.code == "disconnected":
                raise
            state, reason, code = State.FAULT, str(exc), exc.code
        unfinished = self.journal.unfinished()
        if state == State.READY and unfinished:
            state, reason, code = (State.WARNING, f"{len(unfinished)} print job(s) not confirmed as printed; "
                                   "they print again only under the same print token", "unfinished_jobs")
        self.set_status(state, reason, code)

    # -- exactly once ----------------------------------------------------------------
    def recover(self) -> list:
        """After a restart: settle jobs the backend knows finished; return what stays unfinished."""
        for entry in self.journal.unfinished():
            if entry.state == "sent" and entry.job_ref:
                outcome = self.backend.job_state(entry.job_ref)
                if outcome == "completed":
                    self.journal.complete(entry.print_token, "confirmed after restart")
                elif outcome == "failed":
                    self.journal.fail(entry.print_token, "backend reports the job did not print")
        return self.journal.unfinished()

    def unfinished(self) -> list:
        return self.journal.unfinished()

    def prepare_fonts(self, wait: bool = True) -> bool:
        """Build and register the licence font (install, self-test: ``wait``; start: in the
        background).  Returns whether it is ready now."""
        fonts = pdf_fonts(str(self.font_cache))
        if wait:
            fonts.prepare()
        else:
            fonts.prepare_in_background()
        return fonts.ready

    def render(self, doc: dict, print_token: str = "") -> bytes:
        return render_pdf(doc, print_token, draw_stock=self.draw_stock, offset_mm=self.offset_mm,
                          font_cache=self.font_cache, template_dir=self.template_dir)

    def print_document(self, doc: dict, print_token: str) -> PrintResult:
        """Print a platform document once per print token; blocking, call from a worker thread.

        Same token again after success → PrintResult(already_printed=True),
        nothing printed.  An unfinished earlier attempt under the same token
        is re-printed (``reprint=True``); an unfinished job of the same
        document under a *different* token is refused (unfinished_other_token)
        so a technician looks before a second official copy exists.
        """
        if not print_token:
            raise PrinterError("bad_document", "a licence needs the platform's print token")
        document_id = str(doc.get("document_id") or "")
        if not document_id:
            raise PrinterError("bad_document", "document has no document_id")
        with self._printing:
            entry = self.journal.get(print_token)
            if entry and entry.document_id != document_id:
                raise PrinterError("bad_document", "print token belongs to another document")
            if entry and entry.state == COMPLETED:
                return PrintResult(ok=True, already_printed=True, job_ref=entry.job_ref,
                                   detail="already printed under this print token")
            others = [e for e in self.journal.unfinished_for_document(document_id) if e.print_token != print_token]
            if others:
                raise PrinterError("unfinished_other_token", f"document {document_id} has an unconfirmed print "
                                   "under another token; a technician must check the printer output first")
            pdf = self.render(doc, print_token)               # a bad document fails before any intent
            self._check_ready()
            earlier_job = self._earlier_job_that_printed(entry) if entry is not None else ""
            if earlier_job:
                self._refresh_quietly()
                self.publish("printer.printed", kind="licence", document_id=document_id)
                return PrintResult(ok=True, job_ref=earlier_job, detail="printed by the earlier attempt's job")
            self.journal.record_intent(print_token, document_id, printable(doc.get("title"))[:80])
            self.set_status(State.BUSY, "printing document", "printing")
            try:
                job_ref = self.backend.submit(pdf, document_id, print_token)
                self.journal.mark_sent(print_token, job_ref)
                warnings = self.backend.wait(job_ref, self.job_timeout)
            except PrinterError as exc:
                if exc.code != "timeout":        # a timed-out job may still print: keep it unfinished
                    self.journal.fail(print_token, f"{exc.code}: {exc}")
                self._refresh_quietly()
                raise
            except OSError as exc:
                self.journal.fail(print_token, f"{exc.__class__.__name__}: {exc}")
                self._refresh_quietly()
                raise PrinterError("disconnected", f"licence printer unreachable: {exc}") from exc
            self.journal.complete(print_token)
            self._refresh_quietly()
        self.publish("printer.printed", kind="licence", document_id=document_id)
        return PrintResult(ok=True, warnings=warnings, job_ref=job_ref, bytes_sent=len(pdf),
                           reprint=entry is not None)

    def _earlier_job_that_printed(self, entry) -> str:
        """Settle the backend job of an unfinished attempt before a retry (issue 12.3 b).

        A timed-out job may still be queued or printing: without this the retry
        would add a second job and two copies would come out.  Returns that
        job's reference when it did print (the journal is then completed), ""
        when it can no longer print and the retry may submit; raises
        PrinterError("timeout") while it is still printing.
        """
        job_ref = entry.job_ref or self.backend.find_job(entry.document_id, entry.print_token)
        if not job_ref:
            return ""
        try:
            outcome = self.backend.settle(job_ref, self.job_timeout)
        except PrinterError:
            self._refresh_quietly()
            raise
        if outcome != "completed":
            return ""
        self.journal.mark_sent(entry.print_token, job_ref)
        self.journal.complete(entry.print_token, "printed by the earlier attempt's job")
        return job_ref

    def _check_ready(self) -> None:
        state, reason, code = self.backend.status()
        if state == State.FAULT:
            raise PrinterError(code, reason)

    def _refresh_quietly(self) -> None:
        try:
            self._refresh()
        except PrinterError as exc:
            self.set_status(State.DISCONNECTED, str(exc), exc.code)


def create(role: str, section, config, bus: EventBus) -> LicencePrinter:
    """Per ``[devices.licence_printer]``: cups (queue) or file/simulated (PDFs into data_dir/prints)."""
    if section.driver == "cups":
        backend, draw_stock = CupsBackend(section.queue, section.cups_server), not section.preprinted_stock
    else:
        backend, draw_stock = FileBackend(config.data_dir / "prints", section.retention_min * 60), True
    return LicencePrinter(role, bus, backend, config.data_dir / "print_journal.sqlite3",
                          config.data_dir / "cache" / "fonts", (section.offset_x_mm, section.offset_y_mm),
                          draw_stock)
