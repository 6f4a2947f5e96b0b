"""Presence grants: the only way a kiosk reads a resident's data.

A kiosk token says *which kiosk* is asking, never *for whom*.  A grant says a resident proved
presence at that kiosk moments ago, in one of two ways:

* ``identity`` -- the card was read and the live face matched (POST /v1/identity/verify): covers
  every record of that resident;
* ``pickup`` -- the receipt's pickup code together with the ID number on the card read at the kiosk
  (POST /v1/presence/pickup): covers that one application and its documents (通办通取 at any kiosk);
* ``eid`` -- an e-ID QR code, sealed by the identity service, live, single-use and of this kiosk's
  region, was shown at the kiosk (POST /v1/eid/verify, central.eid): covers every record of that
  resident, like ``identity`` (the code is the identity service's proof that the phone's owner
  unlocked it; services whose guide asks for a face check still do one).

A grant is random (only its hash is stored), bound to the kiosk it was issued to and to the
resident key (the keyed hash of the ID number), and lives ``GRANT_TTL_S``.  A document's print
token shown under a grant *releases* the document to that kiosk: the print report, which the
kiosk's offline queue may send after the session (and the grant) ended, is accepted from a kiosk
the document was released to, and from no other.  A document issued in the answer to a kiosk's
own application is released to it ``via`` that application: for ``GRANT_TTL_S`` the kiosk may read
it without a grant (打印证照 right after applying with the card alone) -- it holds only what that
kiosk itself just sent.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from central.storage import Store, token_hash

GRANT_TTL_S = 600.0
IDENTITY, PICKUP, EID = "identity", "pickup", "eid"
VIA_GRANT, VIA_APPLICATION = "grant", "application"


@dataclass(frozen=True)
class Grant:
    kiosk_id: str
    resident_key: str
    application_no: str | None   # a pickup grant covers one application only
    basis: str

    def covers(self, resident_key: str, application_no: str | None = None) -> bool:
        """Does this grant allow reading this resident's record (of this application)?"""
        if resident_key != self.resident_key:
            return False
        return self.application_no is None or application_no == self.application_no


def issue(store: Store, kiosk_id: str, resident_key: str, basis: str, application_no: str | None = None,
          now: float | None = None) -> str:
    """A new grant (the secret, returned once); call inside a write transaction."""
    now = time.time() if now is None else now
    grant = secrets.token_urlsafe(32)
    store.execute("INSERT INTO presence_grants (grant_hash, kiosk_id, resident_key, application_no, basis, "
                  "issued_at, expires_at) VALUES (?,?,?,?,?,?,?)",
                  (token_hash(grant), kiosk_id, resident_key, application_no, basis, now, now + GRANT_TTL_S))
    return grant


def resolve(store: Store, kiosk_id: str, grant: str, now: float | None = None) -> Grant | None:
    """The grant, if it is live and was issued to this kiosk."""
    now = time.time() if now is None else now
    row = store.one("SELECT kiosk_id, resident_key, application_no, basis, expires_at FROM presence_grants "
                    "WHERE grant_hash = ?", (token_hash(grant),))
    if row is None or row["kiosk_id"] != kiosk_id or row["expires_at"] <= now:
        return None
    return Grant(row["kiosk_id"], row["resident_key"], row["application_no"], row["basis"])


def release_prints(store: Store, kiosk_id: str, document_ids: list[str], via: str = VIA_GRANT) -> None:
    """Record that these documents' print tokens were shown to this kiosk (``via`` a grant, or in
    the answer to its own application).  Call inside a write transaction."""
    now = time.time()
    for document_id in document_ids:
        store.execute("INSERT INTO print_releases (document_id, kiosk_id, via, released_at) VALUES (?,?,?,?) "
                      "ON CONFLICT (document_id, kiosk_id) DO NOTHING", (document_id, kiosk_id, via, now))


def released_to(store: Store, document_id: str, kiosk_id: str) -> bool:
    return store.one("SELECT 1 AS x FROM print_releases WHERE document_id = ? AND kiosk_id = ?",
                     (document_id, kiosk_id)) is not None


def just_issued_to(store: Store, document_id: str, kiosk_id: str, now: float | None = None) -> bool:
    """Was the document issued in the answer to this kiosk's own application, moments ago?"""
    now = time.time() if now is None else now
    return store.one("SELECT 1 AS x FROM print_releases WHERE document_id = ? AND kiosk_id = ? AND via = ? "
                     "AND released_at > ?", (document_id, kiosk_id, VIA_APPLICATION, now - GRANT_TTL_S)) is not None


def purge_expired(store: Store, now: float | None = None) -> int:
    """Forget grants that ended (maintenance)."""
    now = time.time() if now is None else now
    with store.write(durable=False):
        return store.execute("DELETE FROM presence_grants WHERE expires_at < ?", (now,)).rowcount
