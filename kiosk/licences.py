"""证照打印: the licence flow the core runs for a resident -- fetch the document from the
platform, map it to the licence printer's template, print it once per print token, and
report the print to the platform through the queue.

The printer's journal makes a second press, or a crash and restart, print at most one
copy per token; :func:`kiosk.workflow.report_prints` tells the platform either way.
"""
from __future__ import annotations

from typing import Any

from kiosk.workflow import report_prints


class NoLicencePrinter(RuntimeError):
    """This kiosk has no licence printer configured (or it failed to open)."""
    code = "no_printer"


def licence_document(platform_doc: dict, verify_base: str) -> dict:
    """The platform's document (GET /v1/documents/{id}) in the licence printer's
    ``certificate_generic`` template shape (docs/printing.md)."""
    data = platform_doc.get("data") or {}
    holder = data.get("holder_name") or ""
    masked = data.get("id_number_masked") or ""
    body = (f"{holder}（公民身份号码：{masked}）申请的{data.get('service_name', '')}事项已办结，"
            f"特此证明。") if holder else f"{data.get('service_name', '')}事项已办结，特此证明。"
    return {"document_id": platform_doc["document_id"], "template": "certificate_generic",
            "title": platform_doc.get("title") or data.get("title", ""), "kind": platform_doc.get("kind", ""),
            "verify_url": f"{verify_base}/verify?d={platform_doc['document_id']}",
            "fields": {"title": data.get("title") or platform_doc.get("title", ""),
                       "number": str(data.get("serial") or platform_doc.get("application_no") or ""),
                       "recipient": "兹证明：", "body": body, "issuer": data.get("issuer", ""),
                       "issued_on": data.get("issued_on", ""),
                       "valid_note": "本证明可通过左侧二维码查验真伪。"}}


def printable(documents: list[dict]) -> list[dict]:
    """The documents that can still be printed (the platform gives those a print token)."""
    return [d for d in documents if d.get("print_token")]


def print_licence(core: Any, session: Any, summary: dict):
    """Fetch, map, print and report one licence; returns the printer's PrintResult
    (``already_printed`` for a token printed before).  Blocks: the core runs it in a
    worker.  ``session`` is the resident's (the platform's reads are theirs)."""
    printer = core.devices.get("licence_printer")
    if printer is None:
        raise NoLicencePrinter("no licence printer configured")
    platform = core.platform
    try:
        document = licence_document(platform.get_document(summary["document_id"], session.presence_grant),
                                    platform.base_url)
        return printer.print_document(document, summary["print_token"])
    finally:
        report_prints(core)  # tell the platform, through the queue, either way
