"""边办边补 on the platform: secondary materials a resident skipped, owed by a deadline.

An application may come with ``skipped`` material ids (the materials screen's 跳过，稍后补交).
Each one the service's menu lists as secondary (``main: false``) is recorded as owed, with a
deadline of the service's ``supplement_days`` working days (the menu's; 10 by default) and status
``awaiting_supplement``.  The resident hands it in later at any kiosk
(``POST /v1/applications/{no}/supplements``): ``received``; an officer then marks it
``accepted`` or ``rejected`` with a reason (``central applications supplement``); a rejected one
may be handed in again before its deadline.

Who may hand in: a kiosk to which the application's owed list was shown under the resident's
presence grant (``POST /v1/residents/applications``, recorded in ``supplement_releases``) -- the
supplement may arrive from that kiosk's offline queue after the session ended, as a print report
does.  Tables of their own (central.supplement_schema, no migration), like the trust and help tables.
"""
from __future__ import annotations

import datetime as dt
import time
import uuid

from central import services
from central.storage import Store

AWAITING, RECEIVED, ACCEPTED, REJECTED = "awaiting_supplement", "received", "accepted", "rejected"
# a hand-in is accepted from a kiosk that showed the owed list within this time (its queue may be late)
RELEASE_TTL_S = 30 * 24 * 3600



def record_owed(store: Store, application_no: str, service: services.Service, skipped: list[str],
                today: dt.date) -> list[dict]:
    """The skipped secondary materials, owed by the service's deadline (inside the intake's write).
    Ids the menu does not list as secondary are ignored: a main material cannot be owed."""
    if not skipped:
        return []
    known = dict(service.secondary) if service.secondary is not None else {m: m for m in skipped}
    deadline = services.add_working_days(today, service.supplement_days).isoformat()
    owed = []
    for material_id in dict.fromkeys(skipped):
        if material_id not in known:
            continue
        store.execute("INSERT INTO supplements_owed (application_no, material_id, name, deadline, status) "
                      "VALUES (?,?,?,?,?)", (application_no, material_id, known[material_id], deadline, AWAITING))
        owed.append({"material_id": material_id, "name": known[material_id], "deadline": deadline,
                     "status": AWAITING, "reason": None})
    return owed


def owed_of(store: Store, application_no: str) -> list[dict]:
    return [{"material_id": r["material_id"], "name": r["name"], "deadline": r["deadline"],
             "status": r["status"], "reason": r["reason"]}
            for r in store.all("SELECT material_id, name, deadline, status, reason FROM supplements_owed "
                               "WHERE application_no = ? ORDER BY material_id", (application_no,))]


def still_owed(owed: list[dict]) -> list[dict]:
    """What the resident still has to hand in (awaiting, or rejected and to be handed in again)."""
    return [o for o in owed if o["status"] in (AWAITING, REJECTED)]


def release(store: Store, kiosk_id: str, application_no: str) -> None:
    """The owed list was shown at this kiosk under a grant: it may hand in (inside a write)."""
    store.execute("INSERT INTO supplement_releases (application_no, kiosk_id, released_at) VALUES (?,?,?) "
                  "ON CONFLICT (application_no, kiosk_id) DO UPDATE SET released_at = excluded.released_at",
                  (application_no, kiosk_id, time.time()))


def released_to(store: Store, application_no: str, kiosk_id: str) -> bool:
    row = store.one("SELECT released_at FROM supplement_releases WHERE application_no = ? AND kiosk_id = ?",
                    (application_no, kiosk_id))
    return row is not None and time.time() - row["released_at"] <= RELEASE_TTL_S


def hand_in(store: Store, kiosk_id: str, application_no: str, decoded: list, today: dt.date) -> dict:
    """Record the handed-in materials (inside a write).  Per material: ``received``, ``not_needed``
    (not owed, or accepted already) or ``deadline_passed``; the pages of received ones are kept
    like an application's (sealed)."""
    app = store.one("SELECT resident_key FROM applications WHERE application_no = ?", (application_no,))
    rows = {r["material_id"]: r for r in store.all(
        "SELECT material_id, name, deadline, status FROM supplements_owed WHERE application_no = ?",
        (application_no,))}
    now = time.time()
    results = []
    for material, pages in decoded:
        row = rows.get(material.id)
        if row is None or row["status"] not in (AWAITING, REJECTED):
            outcome = "not_needed"
        elif dt.date.fromisoformat(row["deadline"]) < today:
            outcome = "deadline_passed"
        elif not pages:
            outcome = "no_pages"
        else:
            outcome = RECEIVED
            store.execute("UPDATE supplements_owed SET status = ?, reason = NULL, received_at = ?, "
                          "received_from = ? WHERE application_no = ? AND material_id = ?",
                          (RECEIVED, now, kiosk_id, application_no, material.id))
            material_row_id = uuid.uuid4().hex
            store.insert("materials", {"material_id": material_row_id, "resident_key": app["resident_key"],
                                       "kind": material.id, "name": row["name"], "application_no": application_no,
                                       "submitted_at": now, "pages": len(pages)})
            for page_no, (digest, content) in enumerate(pages):
                store.insert("material_pages", {"material_id": material_row_id, "page_no": page_no,
                                                "sha256": digest, "content": content})
        results.append({"material_id": material.id, "outcome": outcome})
    return {"application_no": application_no, "results": results, "owed": owed_of(store, application_no)}


class SupplementError(Exception):
    pass


def decide(store: Store, application_no: str, accept: bool, reason: str | None = None,
           material_id: str | None = None) -> list[dict]:
    """An officer accepts or rejects (with a reason) what was handed in: one material, or every
    received one of the application.  Returns the owed list afterwards."""
    if not accept and not (reason or "").strip():
        raise SupplementError("a rejection needs a reason the resident will read")
    with store.write():
        rows = store.all("SELECT material_id, status FROM supplements_owed WHERE application_no = ?",
                         (application_no,))
        if not rows:
            raise SupplementError(f"application {application_no} owes no supplements")
        chosen = [r for r in rows if material_id in (None, r["material_id"])]
        if material_id is not None and not chosen:
            raise SupplementError(f"application {application_no} does not owe {material_id}")
        received = [r for r in chosen if r["status"] == RECEIVED]
        if not received:
            raise SupplementError(f"nothing handed in to decide for application {application_no}")
        for r in received:
            store.execute("UPDATE supplements_owed SET status = ?, reason = ?, decided_at = ? "
                          "WHERE application_no = ? AND material_id = ?",
                          (ACCEPTED if accept else REJECTED, None if accept else reason.strip()[:200],
                           time.time(), application_no, r["material_id"]))
    return owed_of(store, application_no)
