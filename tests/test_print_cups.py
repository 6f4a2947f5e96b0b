"""The CUPS backend against a real cupsd started by the test.

ippeveprinter (CUPS 2.4.2) exits with "Unable to initialize DNS-SD" when no
avahi-daemon runs, which is the case on CI machines and here, so the printer
behind the real cupsd is a CUPS *backend* written by the test: it reports
``STATE: +media-empty-error`` on stderr exactly as ippeveprinter's ``-c``
command or a real backend would, and cupsd turns that into the queue's
printer-state-reasons which the kiosk reads through pycups.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from devices.base import State
from devices.printers.common import PrinterError
from devices.printers.cups_backend import CUPSD_PRIVACY, CupsBackend, job_name, map_reasons
from devices.printers.journal import FAILED
from devices.printers.licence import LicencePrinter
from tests.test_print_licence import FONT_CACHE, sample

BINARIES = ("cupsd", "lpadmin", "cupsenable", "cupsdisable")


def test_printer_state_reasons_map_to_kiosk_codes():
    assert map_reasons(["media-empty-error"]) == (["paper_out"], [])
    assert map_reasons(["cover-open-error", "media-low-warning"]) == (["cover_open"], ["paper_near_end"])
    assert map_reasons("media-jam") == (["media_jam"], [])
    assert map_reasons(["none"]) == ([], [])
    assert map_reasons(["media-empty-report", "toner-low-warning", "other-error"]) == ([], ["toner_low"])
    assert map_reasons(["offline-report"]) == ([], [])
    assert map_reasons(["door-open-warning"]) == ([], ["cover_open"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BACKEND = """#!/bin/sh
# A test printer for cupsd: prints into {out}, or runs out of paper when {control}/mode says so.
if [ $# -eq 0 ]; then echo 'direct kiosktest "Unknown" "Kiosk test printer"'; exit 0; fi
mode=$(cat {control}/mode 2>/dev/null || echo ok)
if [ "$mode" = paper_out ]; then
    echo "STATE: +media-empty-error" >&2
    echo "ERROR: out of paper" >&2
    sleep 60
    exit 1
fi
if [ "$mode" = stall ]; then          # a printer that takes its time: prints once released
    while [ ! -e {control}/release ]; do sleep 0.1; done
fi
echo "STATE: -media-empty-error" >&2
cat "${{6:--}}" > {out}/job-$1.pdf
exit 0
"""


@pytest.fixture
def cupsd(tmp_path):
    """A private cupsd on a free loopback port with queue ``kiosk_a4``; yields (server, root)."""
    missing = [b for b in BINARIES if not shutil.which(b) and not Path("/usr/sbin", b).exists()]
    if missing:
        pytest.skip(f"CUPS not installed ({', '.join(missing)} missing): apt-get install cups")
    if os.geteuid() != 0:
        pytest.skip("cupsd runs backends with root privileges only when started as root")
    pytest.importorskip("cups", reason="pycups not installed")
    root = tmp_path / "cups"
    for sub in ("state", "cache", "spool", "tmp", "log", "bin/backend", "out", "control", "ppd"):
        (root / sub).mkdir(parents=True)
    for sub in ("filter", "daemon", "cgi-bin", "notifier", "monitor", "driver"):
        if Path("/usr/lib/cups", sub).exists():
            (root / "bin" / sub).symlink_to(Path("/usr/lib/cups", sub))
    backend = root / "bin" / "backend" / "kiosktest"
    backend.write_text(BACKEND.format(out=root / "out", control=root / "control"))
    backend.chmod(0o700)                   # 0700 + root-owned: cupsd runs it as root
    port = _free_port()
    (root / "cupsd.conf").write_text(f"""Listen 127.0.0.1:{port}
LogLevel info
Browsing No
DefaultAuthType None
WebInterface No
JobRetryLimit 0
{CUPSD_PRIVACY}<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  JobPrivateValues none
  <Limit All>
    Order deny,allow
    Allow all
  </Limit>
</Policy>
""")
    (root / "cups-files.conf").write_text(f"""ServerRoot {root}
StateDir {root}/state
CacheDir {root}/cache
RequestRoot {root}/spool
TempDir {root}/tmp
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
ServerBin {root}/bin
DataDir /usr/share/cups
Sandboxing Relaxed
""")
    os.chmod(tmp_path, 0o755)
    proc = subprocess.Popen(["cupsd", "-f", "-c", str(root / "cupsd.conf"), "-s", str(root / "cups-files.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"cupsd did not start: {proc.stderr.read().decode(errors='replace')[-500:]}")
                time.sleep(0.05)
        subprocess.run(["lpadmin", "-h", server, "-p", "kiosk_a4", "-E", "-v", "kiosktest://a4", "-m", "raw"],
                       check=True, capture_output=True)
        yield server, root
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def licence_printer(server: str, tmp_path: Path) -> LicencePrinter:
    device = LicencePrinter("licence_printer", None, CupsBackend("kiosk_a4", server),
                            tmp_path / "print_journal.sqlite3", FONT_CACHE, draw_stock=False)
    device.job_timeout = 30
    return device


def test_job_is_followed_to_completed(cupsd, tmp_path):
    server, root = cupsd
    device = licence_printer(server, tmp_path)
    assert device.backend.status() == (State.READY, "", "")
    result = device.print_document(sample(), "tok-cups-1")
    assert result.ok and result.job_ref.isdigit()
    printed = list((root / "out").glob("job-*.pdf"))
    assert len(printed) == 1 and printed[0].read_bytes().startswith(b"%PDF")
    assert device.print_document(sample(), "tok-cups-1").already_printed
    assert len(list((root / "out").glob("job-*.pdf"))) == 1
    assert device.backend.job_state(result.job_ref) == "completed"


def test_paper_out_during_the_job_cancels_it_and_the_same_token_prints_later(cupsd, tmp_path):
    server, root = cupsd
    (root / "control" / "mode").write_text("paper_out")
    device = licence_printer(server, tmp_path)
    with pytest.raises(PrinterError) as err:
        device.print_document(sample(), "tok-cups-2")
    assert err.value.code == "paper_out"
    entry = device.journal.get("tok-cups-2")
    assert entry.state == FAILED and "paper_out" in entry.detail
    assert device.backend.job_state(entry.job_ref) == "failed"          # cancelled: cannot surprise-print later
    assert device.backend.status()[2] == "paper_out"
    assert not list((root / "out").glob("job-*.pdf"))
    (root / "control" / "mode").write_text("ok")                        # paper refilled
    result = device.print_document(sample(), "tok-cups-2")
    assert result.ok and result.reprint
    assert len(list((root / "out").glob("job-*.pdf"))) == 1


def test_stopped_queue_is_a_fault_and_nothing_is_journalled(cupsd, tmp_path):
    server, _ = cupsd
    subprocess.run(["cupsdisable", "-h", server, "-r", "technician", "kiosk_a4"], check=True, capture_output=True)
    device = licence_printer(server, tmp_path)
    state, _, code = device.backend.status()
    assert (state, code) == (State.FAULT, "offline")
    with pytest.raises(PrinterError) as err:
        device.print_document(sample(), "tok-cups-3")
    assert err.value.code == "offline"
    assert device.journal.get("tok-cups-3") is None


def test_unreachable_cups_server_is_disconnected(tmp_path):
    pytest.importorskip("cups", reason="pycups not installed")
    backend = CupsBackend("kiosk_a4", f"127.0.0.1:{_free_port()}")
    with pytest.raises(PrinterError) as err:
        backend.check()
    assert err.value.code == "disconnected"


def _queue_drained(server: str, timeout: float = 30.0) -> bool:
    import cups

    host, _, port = server.rpartition(":")
    cups.setServer(host)
    cups.setPort(int(port))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not cups.Connection(host=host, port=int(port)).getJobs(which_jobs="not-completed"):
            return True
        time.sleep(0.1)
    return False


def test_a_timed_out_job_is_not_submitted_again_on_the_retry(cupsd, tmp_path):
    """Issue 12.3 (b): CUPS timed out, the job stays queued; the retry must not add a second copy."""
    server, root = cupsd
    (root / "control" / "mode").write_text("stall")
    device = licence_printer(server, tmp_path)
    device.job_timeout = 1.5
    with pytest.raises(PrinterError) as err:
        device.print_document(sample(), "tok-cups-4")
    assert err.value.code == "timeout"
    assert device.journal.get("tok-cups-4").job_ref            # the journal keeps the job it waits for
    (root / "control" / "release").touch()                      # the printer catches up
    device.job_timeout = 30
    result = device.print_document(sample(), "tok-cups-4")     # the resident presses "retry"
    assert result.ok
    assert _queue_drained(server)
    assert len(list((root / "out").glob("job-*.pdf"))) == 1     # one licence, not two
    assert device.journal.get("tok-cups-4").finished
    assert device.print_document(sample(), "tok-cups-4").already_printed


def test_a_timed_out_job_still_waiting_is_cancelled_before_the_retry_submits(cupsd, tmp_path):
    """The earlier attempt's job never started (held in the queue): cancel it, then print once."""
    import cups

    server, root = cupsd
    device = licence_printer(server, tmp_path)
    doc = sample()
    pdf = tmp_path / "earlier.pdf"
    pdf.write_bytes(device.render(doc, "tok-cups-5"))
    conn = device.backend._connection()
    earlier = conn.printFile("kiosk_a4", str(pdf), "licence", {"job-hold-until": "indefinite"})
    device.journal.record_intent("tok-cups-5", doc["document_id"], "licence")
    device.journal.mark_sent("tok-cups-5", str(earlier))      # as a timed-out attempt left it
    result = device.print_document(doc, "tok-cups-5")
    assert result.ok
    assert _queue_drained(server)
    assert len(list((root / "out").glob("job-*.pdf"))) == 1
    state = conn.getJobAttributes(earlier, requested_attributes=["job-state"])["job-state"]
    assert state == cups.IPP_JOB_CANCELED                       # the earlier job never printed


def test_cupsd_keeps_no_job_files_after_printing(cupsd, tmp_path):
    """Issue 12.9: a spooled licence PDF (the resident's name in clear) must not stay in cupsd's spool."""
    server, root = cupsd
    device = licence_printer(server, tmp_path)
    assert device.print_document(sample(), "tok-cups-6").ok
    assert _queue_drained(server)
    deadline = time.monotonic() + 5
    while list((root / "spool").glob("d*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not list((root / "spool").glob("d*")), "cupsd kept the job's document file"
    assert device.backend.keeps_job_files() is False


def test_after_a_crash_before_the_job_id_was_journalled_the_job_is_found_by_its_name(cupsd, tmp_path):
    """Submitted, then killed before mark_sent: the retry finds the job by name instead of adding a copy."""
    server, root = cupsd
    device = licence_printer(server, tmp_path)
    doc = sample()
    pdf = tmp_path / "earlier.pdf"
    pdf.write_bytes(device.render(doc, "tok-cups-7"))
    conn = device.backend._connection()
    device.journal.record_intent("tok-cups-7", doc["document_id"], "licence")      # no job id journalled
    earlier = conn.printFile("kiosk_a4", str(pdf), job_name(doc["document_id"], "tok-cups-7"), {})
    assert _queue_drained(server)                                   # it printed before the crash
    result = device.print_document(doc, "tok-cups-7")
    assert result.ok and result.job_ref == str(earlier)
    assert len(list((root / "out").glob("job-*.pdf"))) == 1
    assert device.journal.get("tok-cups-7").finished
