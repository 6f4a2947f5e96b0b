"""Issue 12.3 (a): a licence that failed once (paper out) and printed on the retry is
reported to the platform as printed, so its token dies and no other kiosk prints it again.

Runs the real journal, the real licence printer (file backend), kiosk.workflow's
report_prints, the outbox/sender and the reference platform on loopback.
"""
from __future__ import annotations

from kiosk.workflow import SUBMITTED, report_prints, submit_application
from tests.test_print_licence import sample
from tests.test_queue_workflow import kiosk_with_licence_printer, resident_session, wait_until  # noqa: F401


def test_a_retry_that_prints_after_a_failed_attempt_is_reported_printed(kiosk_with_licence_printer):
    core, store = kiosk_with_licence_printer
    session, _ = resident_session(core)
    result = submit_application(core, session, {"id": "birth-registration", "names": {"zh_CN": "生育登记"}})
    assert result.status == SUBMITTED
    issued = result.response["documents"][0]
    doc, token = {**sample(), "document_id": issued["document_id"]}, issued["print_token"]
    printer = core.devices["licence_printer"]
    journal = printer.journal

    # First attempt: the printer ran out of paper; the failure is reported.
    journal.record_intent(token, doc["document_id"], doc.get("title", ""))
    journal.fail(token, "paper_out: receipt paper is out")
    assert report_prints(core) == 1
    wait_until(lambda: core.outbox.stats(include_done=True)["depth"] == 0)
    assert store.one("SELECT printed_at FROM documents WHERE document_id = ?", (doc["document_id"],))["printed_at"] is None

    # Paper refilled: the same token prints, and the platform must hear "printed".
    printed = printer.print_document(doc, token)
    assert printed.ok and printed.reprint
    assert report_prints(core) == 1
    wait_until(lambda: store.one("SELECT printed_at FROM documents WHERE document_id = ?",
                                 (doc["document_id"],))["printed_at"] is not None)
    assert report_prints(core) == 0
