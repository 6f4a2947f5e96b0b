"""A4 licences: rendering (embedded CJK font, fields, QR) and exactly-once printing via the journal,
including a real crash (SIGKILL) between intent and completion."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from devices.base import State
from devices.printers.common import PrinterError
from devices.printers.cups_backend import FileBackend
from devices.printers.journal import COMPLETED, INTENT, PrintJournal
from devices.printers.licence import LicencePrinter, render_pdf

ROOT = Path(__file__).resolve().parent.parent
FONT_CACHE = ROOT / "var" / "test-cache" / "fonts"      # built once (a few seconds), reused by later runs
SAMPLES = ROOT / "assets" / "templates" / "samples"


def sample(name: str = "business_licence_individual") -> dict:
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def printer(data_dir: Path) -> LicencePrinter:
    return LicencePrinter("licence_printer", None, FileBackend(data_dir / "prints", retention_s=600),
                          data_dir / "print_journal.sqlite3", FONT_CACHE)


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils (pdftotext) not installed")
@pytest.mark.parametrize("name", ["business_licence_individual", "certificate_generic"])
def test_pdf_embeds_the_cjk_font_and_carries_every_field(name, tmp_path):
    doc = sample(name)
    pdf = render_pdf(doc, "tok-1234567890", font_cache=FONT_CACHE)
    assert b"/FontFile2" in pdf                           # TrueType outlines embedded
    assert b"Helvetica" not in pdf                        # no unembedded base-14 font sneaks in
    text = pdf_text(pdf, tmp_path).replace(" ", "").replace("\n", "")
    for key, value in doc["fields"].items():
        assert value.replace(" ", "")[:12] in text, key
    assert "tok-1234567890" in text


def ink(pdf: bytes) -> int:
    """Dark pixels of the page rendered by poppler at 50 dpi."""
    pgm = subprocess.run(["pdftoppm", "-r", "50", "-gray", "-"], input=pdf, capture_output=True, check=True).stdout
    header_end = pgm.index(b"255\n") + 4
    return sum(1 for b in pgm[header_end:] if b < 128)


def test_rare_characters_outside_gb2312_and_the_bmp_still_get_glyphs(tmp_path):
    doc = sample()
    doc["fields"]["operator"] = "堃喆"                 # not in GB 2312: per-document font subset
    pdf = render_pdf(doc, font_cache=FONT_CACHE)
    assert "堃喆" in pdf_text(pdf, tmp_path)
    doc["fields"]["operator"] = "𠮷堃喆"               # beyond the BMP: drawn as an outline
    with_outline = render_pdf(doc, font_cache=FONT_CACHE)
    assert "堃喆" in pdf_text(with_outline, tmp_path)
    assert ink(with_outline) > ink(pdf) + 10


def test_missing_required_field_is_a_clear_error_not_a_blank_licence():
    doc = sample()
    del doc["fields"]["credit_code"]
    with pytest.raises(PrinterError, match="credit_code") as err:
        render_pdf(doc, font_cache=FONT_CACHE)
    assert err.value.code == "bad_document"
    with pytest.raises(PrinterError, match="template"):
        render_pdf(dict(doc, template="../../etc/passwd"), font_cache=FONT_CACHE)


def test_calibration_offsets_move_the_fields(tmp_path):
    plain = render_pdf(sample(), draw_stock=False, font_cache=FONT_CACHE)
    shifted = render_pdf(sample(), draw_stock=False, offset_mm=(2.0, 1.0), font_cache=FONT_CACHE)
    assert plain != shifted
    bbox = subprocess.run(["pdftotext", "-bbox", "-", "-"], input=plain, capture_output=True).stdout
    bbox2 = subprocess.run(["pdftotext", "-bbox", "-", "-"], input=shifted, capture_output=True).stdout
    import re

    first = [float(v) for v in re.findall(rb'xMin="([\d.]+)"', bbox)[:1]]
    second = [float(v) for v in re.findall(rb'xMin="([\d.]+)"', bbox2)[:1]]
    assert second[0] - first[0] == pytest.approx(2.0 * 72 / 25.4, abs=0.2)


def test_same_token_prints_once(tmp_path):
    device = printer(tmp_path)
    first = device.print_document(sample(), "token-A")
    assert first.ok and not first.already_printed and Path(first.job_ref).exists()
    again = device.print_document(sample(), "token-A")
    assert again.already_printed and again.job_ref == first.job_ref
    assert len(list((tmp_path / "prints").glob("*.pdf"))) == 1
    assert device.journal.get("token-A").state == COMPLETED
    with pytest.raises(PrinterError, match="another document"):
        device.print_document(sample("certificate_generic"), "token-A")


def test_bad_document_records_no_intent(tmp_path):
    device = printer(tmp_path)
    doc = sample()
    doc["fields"]["name"] = ""
    with pytest.raises(PrinterError):
        device.print_document(doc, "token-B")
    assert device.journal.get("token-B") is None


CRASHER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from devices.printers.cups_backend import FileBackend
    from devices.printers.licence import LicencePrinter
    import json
    stage, data_dir, font_cache, doc_path = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), sys.argv[5]

    class CrashingBackend(FileBackend):
        def submit(self, *args):
            if stage == "before_send":
                print("SENDING", flush=True); time.sleep(60)
            return super().submit(*args)

        def wait(self, job_ref, timeout):
            print("WAITING", flush=True); time.sleep(60)

    device = LicencePrinter("licence_printer", None, CrashingBackend(data_dir / "prints", 600),
                            data_dir / "print_journal.sqlite3", font_cache)
    device.print_document(json.loads(Path(doc_path).read_text()), "token-crash")
""")


def crash(stage: str, tmp_path: Path) -> None:
    """Run a print in another process and SIGKILL it at ``stage``."""
    script = tmp_path / "crasher.py"
    script.write_text(CRASHER)
    proc = subprocess.Popen([sys.executable, str(script), str(ROOT), stage, str(tmp_path), str(FONT_CACHE),
                             str(SAMPLES / "business_licence_individual.json")], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line == {"before_send": "SENDING", "after_send": "WAITING"}[stage]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def test_crash_before_the_printer_confirmed_reprints_only_under_the_same_token(tmp_path):
    crash("before_send", tmp_path)
    device = printer(tmp_path)
    unfinished = device.recover()
    assert [(e.print_token, e.state) for e in unfinished] == [("token-crash", INTENT)]
    device._refresh()
    assert device.status.state == State.WARNING and device.status.code == "unfinished_jobs"
    with pytest.raises(PrinterError) as err:
        device.print_document(sample(), "token-other")
    assert err.value.code == "unfinished_other_token"
    assert not list((tmp_path / "prints").glob("*.pdf"))
    result = device.print_document(sample(), "token-crash")
    assert result.ok and result.reprint
    assert device.journal.get("token-crash").attempts == 2
    assert device.print_document(sample(), "token-crash").already_printed
    assert len(list((tmp_path / "prints").glob("*.pdf"))) == 1
    assert device.unfinished() == []


def test_crash_after_the_job_was_handed_over_is_settled_without_a_second_copy(tmp_path):
    crash("after_send", tmp_path)
    journal = PrintJournal(tmp_path / "print_journal.sqlite3")
    assert journal.get("token-crash").state == "sent"      # durable across the kill
    journal.close()
    device = printer(tmp_path)
    assert device.recover() == []                          # the file backend says it is complete
    assert device.print_document(sample(), "token-crash").already_printed
    assert len(list((tmp_path / "prints").glob("*.pdf"))) == 1


def test_file_driver_deletes_licence_pdfs_after_the_retention(make_config, tmp_path):
    """Issue 12.9: the default driver kept every licence (the resident's name in clear) forever."""
    from devices.printers import licence

    config = make_config(f'[kiosk]\ndata_dir = "{tmp_path}"\n[devices.licence_printer]\ndriver = "file"\n'
                         "retention_min = 5\n")
    device = licence.create("licence_printer", config.devices.licence_printer, config, None)
    device.font_cache = FONT_CACHE
    try:
        result = device.print_document(sample(), "token-retention")
        pdf = Path(result.job_ref)
        assert pdf.exists() and pdf.stat().st_mode & 0o077 == 0          # readable by the kiosk user only
        assert device.backend.status()[0] == State.READY and pdf.exists()   # younger than 5 minutes: kept
        four_minutes_ago = time.time() - 4 * 60
        os.utime(pdf, (four_minutes_ago, four_minutes_ago))
        device.backend.status()
        assert pdf.exists()
        six_minutes_ago = time.time() - 6 * 60
        os.utime(pdf, (six_minutes_ago, six_minutes_ago))
        device.backend.status()                                     # the printer's status poll purges
        assert not pdf.exists() and not list((tmp_path / "prints").iterdir())
        assert device.print_document(sample(), "token-retention").already_printed   # the journal still knows
    finally:
        device.journal.close()


def test_journal_forgets_settled_reported_jobs_after_the_retention(tmp_path):
    """Issue 18: the print journal grew ~5 KB a session with nothing bounding it.  Settled jobs
    the platform heard of go after JOURNAL_DAYS; unfinished or unreported ones stay."""
    from devices.printers.journal import JOURNAL_DAYS, PrintJournal
    journal = PrintJournal(tmp_path / "journal.sqlite3")
    try:
        for token in ("reported", "unreported", "unfinished", "failed"):
            journal.record_intent(token, f"doc-{token}")
        journal.complete("reported")
        journal.mark_reported("reported")
        journal.complete("unreported")
        journal.fail("failed", "paper jam")
        journal.mark_reported("failed")
        assert journal.expire(now=time.time() + (JOURNAL_DAYS - 1) * 86400) == 0    # too young
        assert journal.expire(now=time.time() + (JOURNAL_DAYS + 1) * 86400) == 2
        assert journal.get("reported") is None and journal.get("failed") is None
        assert journal.get("unreported").state == COMPLETED and journal.get("unfinished").state == INTENT
    finally:
        journal.close()
