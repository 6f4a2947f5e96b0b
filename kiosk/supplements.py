"""边办边补 on the kiosk: what a resident skipped, and handing it in later.

* :func:`skipped_materials` (kiosk.workflow) -- the secondary materials of the service the resident did not scan
  (跳过，稍后补交); the application says so (``skipped``) and the platform records them as owed,
  with the deadline of the service's ``supplement_days``.
* :class:`SupplementTransaction` -- 补交 from 我的办件: the materials screen scans exactly the owed
  materials (each needs a page), then the ``supplement`` screen hands them in.
* :func:`submit_supplement` -- the scans go through the durable outbox (kind ``supplement``, the
  item id is the Idempotency-Key of ``POST /v1/applications/{no}/supplements``): delivered exactly
  once, also after an outage or a crash.  Like an application it waits a few seconds for the
  platform; the answer then says per material received / not needed / deadline passed.

Blocking (SQLite, network): the core runs it in a worker.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from kiosk.transaction import MATERIALS, Transaction, attr
from kiosk.workflow import ACK_WAIT_S, SubmitResult, _await, skipped_materials  # noqa: F401 (re-exported)

SUPPLEMENT = "supplement"   # the step (and screen) that hands the scans in


def owed_now(application: dict, today: dt.date | None = None) -> list[dict]:
    """What the resident can still hand in: awaiting (or rejected) and not past its deadline."""
    today = today or dt.date.today()
    return [o for o in application.get("owed", []) if o.get("status") in ("awaiting_supplement", "rejected")
            and _date(o.get("deadline")) >= today]


def overdue(application: dict, today: dt.date | None = None) -> list[dict]:
    today = today or dt.date.today()
    return [o for o in application.get("owed", []) if o.get("status") in ("awaiting_supplement", "rejected")
            and _date(o.get("deadline")) < today]


def _date(text: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        return dt.date.min


def unlisted_service(application: dict) -> Any:
    """A stand-in for a service the menu does not list (any more): its id and the platform's name."""
    from types import SimpleNamespace
    name = application.get("service_name", "")
    return SimpleNamespace(id=application.get("service_id", ""), guide={"materials": []},
                           name=lambda _lang="zh_CN": name, flow="apply", identity="id_card")


@dataclass
class SupplementTransaction(Transaction):
    """补交 for one application: scan each owed material (every one needs a page), then hand in."""
    application_no: str = ""
    owed: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.steps = [MATERIALS, SUPPLEMENT]

    def materials_to_scan(self) -> list[dict]:
        guide = {m.get("id"): m for m in (attr(self.service, "guide", {}) or {}).get("materials", [])}
        todo = []
        for owed in self.owed:
            names = (guide.get(owed["material_id"]) or {}).get("names") or {"zh_CN": owed.get("name", "")}
            todo.append({"id": owed["material_id"], "names": names, "main": True, "reusable": False})
        return todo


def submit_supplement(core: Any, session: Any, transaction: SupplementTransaction,
                      wait_s: float = ACK_WAIT_S) -> SubmitResult:
    """Queue the scanned owed materials and wait up to ``wait_s`` for the platform."""
    now = dt.datetime.now().astimezone()
    wanted = {o["material_id"] for o in transaction.owed}
    attachments = [(material_id, path) for material_id, paths in session.materials.items()
                   if material_id in wanted for path in paths]
    payload = {"application_no": transaction.application_no, "materials": []}  # scans filled in when sent
    item_id = core.sender.enqueue(SUPPLEMENT, payload, attachments)
    result = _await(core, item_id, wait_s, now)
    result.application_no = transaction.application_no
    session.application = {"item_id": item_id, "status": result.status, "reference": result.reference,
                           "application_no": transaction.application_no, "supplement": True}
    return result
