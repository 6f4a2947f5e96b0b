"""Documents: listed and read under a presence grant; prints reported by a kiosk they were released to."""
from __future__ import annotations

import hmac
import logging
import time

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from central import audit, grants
from central.deps import grant_if_any, kiosk, presence, refuse_read, store_of
from central.idempotent import idempotent
from central.intake import document_summary
from central.schemas import (RESIDENT_ERRORS, DocumentData, DocumentsResponse, PrintedReport, PrintedResponse,
                             Problem)
from central.storage import Store

log = logging.getLogger("central.documents")
router = APIRouter(tags=["kiosk"])


@router.post("/v1/documents/query", response_model=DocumentsResponse, responses=RESIDENT_ERRORS)
def query_documents(grant: grants.Grant = Depends(presence), store: Store = Depends(store_of)):
    """The documents of the resident present: all of them (identity grant) or those of the
    application whose pickup code was given (pickup grant, 通办通取)."""
    if grant.application_no is None:
        rows = store.all("SELECT * FROM documents WHERE resident_key = ? ORDER BY created_at", (grant.resident_key,))
    else:
        rows = store.all("SELECT * FROM documents WHERE resident_key = ? AND application_no = ? "
                         "ORDER BY created_at", (grant.resident_key, grant.application_no))
    summaries = [document_summary(r) for r in rows]
    with store.write():
        grants.release_prints(store, grant.kiosk_id, [s.document_id for s in summaries if s.print_token])
    audit.record(store, grant.kiosk_id, "documents listed", grant.resident_key, f"{len(rows)} document(s)")
    return DocumentsResponse(documents=summaries)


def document_row(store: Store, document_id: str, lock: bool = False) -> dict | None:
    """``lock``: inside a write that changes the row (PostgreSQL: FOR UPDATE)."""
    sql = "SELECT * FROM documents WHERE document_id = ?"
    return store.one_for_update(sql, (document_id,)) if lock else store.one(sql, (document_id,))


@router.get("/v1/documents/{document_id}", response_model=DocumentData, responses=RESIDENT_ERRORS)
def get_document(document_id: str, asker: tuple = Depends(grant_if_any), store: Store = Depends(store_of)):
    """The document's fields, for the kiosk's licence/certificate template: under a grant covering
    it, or right after the kiosk's own application issued it."""
    kiosk_id, grant = asker
    row = store.record("documents", document_id)
    allowed = row is not None and (grant.covers(row["resident_key"], row["application_no"]) if grant
                                   else grants.just_issued_to(store, document_id, kiosk_id))
    if not allowed:
        refuse_read(store, kiosk_id, f"document {document_id}", grant.resident_key if grant else None,
                    not_found=grant is not None)
    audit.record(store, kiosk_id, "document read", row["resident_key"], document_id,
                 outcome="allowed" if grant else "allowed: just issued to this kiosk")
    return DocumentData(document_id=row["document_id"], title=row["title"], kind=row["kind"],
                        status=row["status"], application_no=row["application_no"], data=row["data"])


@router.post("/v1/documents/{document_id}/printed", response_model=PrintedResponse,
             responses={**RESIDENT_ERRORS, 409: {"model": Problem, "description": (
                 "wrong print token (retryable false), or the same Idempotency-Key still processing")}})
def report_printed(document_id: str, body: PrintedReport, request: Request, kiosk_id: str = Depends(kiosk),
                   idempotency_key: str | None = Header(None, max_length=100), store: Store = Depends(store_of)):
    """Report a print.  Accepted only from a kiosk the document was released to (its print token
    was shown there under a presence grant): the report may come from the kiosk's offline queue
    after the session ended.  The same token reported again is harmless; a wrong one is refused."""
    if not grants.released_to(store, document_id, kiosk_id):
        refuse_read(store, kiosk_id, f"print report {document_id}", None)

    def work() -> tuple[int, dict]:
        row = document_row(store, document_id, lock=True)
        if row is None:
            raise HTTPException(404, "no document with this id")
        if not hmac.compare_digest(row["print_token"].encode("utf-8"), body.print_token.encode("utf-8")):
            raise HTTPException(409, {"message": "print token does not match this document", "retryable": False})
        if row["status"] == "ready":
            if body.result == "printed":
                store.execute("UPDATE documents SET status = 'printed', printed_at = ?, printed_by = ?, "
                              "last_detail = ? WHERE document_id = ?",
                              (time.time(), kiosk_id, body.detail[:200], document_id))
                log.info("document %s printed at %s", document_id, kiosk_id)
            else:
                store.execute("UPDATE documents SET print_failures = print_failures + 1, last_detail = ? "
                              "WHERE document_id = ?", (body.detail[:200], document_id))
                log.warning("document %s failed to print at %s", document_id, kiosk_id)
        row = document_row(store, document_id)
        return 200, PrintedResponse(document_id=document_id, status=row["status"],
                                    print_failures=row["print_failures"]).model_dump()

    if idempotency_key:
        return idempotent(store, request.app.state.settings, kiosk_id, f"printed:{document_id}", idempotency_key,
                          body.model_dump(mode="json"), work)
    with store.write():
        status, response = work()
    return JSONResponse(response, status_code=status)
