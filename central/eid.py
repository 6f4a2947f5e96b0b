"""电子身份证 (e-ID) QR codes: the reference platform plays the identity service.

An e-ID code is what a resident's phone shows: a short-lived, single-use code, issued by the
identity service, that carries only what the e-ID carries -- the name and the ID number, never the
address, the photo or the card's validity -- bound to the region whose kiosks may accept it.

Format: ``EID1.`` + base64url of an AES-256-GCM sealed JSON payload (``nonce || ciphertext+tag``,
the associated data ``e-ID code v1``).  Sealed rather than merely signed: a photo of the phone's
screen does not reveal the ID number; and authenticated: a code not sealed with the identity
service's key, or changed by one bit, does not open (``eid_forged``).  The key is a secret file
beside the pepper (``<pepper>.eid``, 0600, created on first use; $CENTRAL_EID_KEY overrides),
never in the database.  The payload::

    {"v": 1, "n": name, "id": ID number, "r": region, "iat": issued, "exp": expires, "j": code id}

Single use: a code's id is recorded in ``eid_codes_used`` inside the transaction that issues the
grant (primary key: the second use -- from any worker process, SQLite or PostgreSQL -- finds it).
The rows are forgotten once the code has expired (maintenance), as the code is dead by then.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from common.sealing import Sealer
from central.sealing import load_or_create_secret
from central.storage import Store

PREFIX = "EID1."
CONTEXT = "e-ID code v1"
MAX_TTL_S = 600.0         # an e-ID code is shown for a minute or so; never more than ten
DEFAULT_TTL_S = 60.0
CLOCK_SKEW_S = 30.0       # a code "issued" this far in the future is still accepted
CARRIES = ("name", "id_number")   # what an e-ID answers; the card's other fields it does not carry


# machine code -> (HTTP status, the technician's words); the kiosk shows its own plain words
REFUSALS = {
    "eid_forged": (404, "not an e-ID code issued by the identity service (unreadable or altered)"),
    "eid_expired": (410, "this e-ID code has expired: show a fresh one"),
    "eid_used": (410, "this e-ID code was used already: show a fresh one"),
    "eid_wrong_region": (403, "this e-ID code is not valid in this kiosk's region"),
}


class EidRefused(Exception):
    def __init__(self, code: str, resident_key: str | None = None):
        super().__init__(REFUSALS[code][1])
        self.code = code
        self.status = REFUSALS[code][0]
        self.resident_key = resident_key


@dataclass(frozen=True)
class EidIdentity:
    name: str
    id_number: str
    region: str
    code_id: str
    expires_at: float

    def __repr__(self) -> str:  # never the name or the number, even in a traceback
        return f"EidIdentity(region={self.region!r}, code_id={self.code_id[:6]}…)"


def id_number_valid(number: str) -> bool:
    """18 characters with the GB 11643 check digit (what the identity service would refuse to issue)."""
    if len(number) != 18 or not number[:17].isdigit() or not number.isascii():
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(number, weights)) % 11] == number[17].upper()


def key_path(store: Store, path: str | os.PathLike | None = None) -> Path:
    path = path or os.environ.get("CENTRAL_EID_KEY")
    return Path(path) if path else Path(store.pepper_path).with_suffix(".eid")


class EidKey:
    """The identity service's key (shared here: the reference platform issues and verifies)."""

    def __init__(self, secret: bytes):
        self._sealer = Sealer(secret)

    @classmethod
    def for_store(cls, store: Store, path: str | os.PathLike | None = None) -> "EidKey":
        return cls(load_or_create_secret(key_path(store, path), create=True))

    def issue(self, id_number: str, name: str, region: str, ttl_s: float = DEFAULT_TTL_S,
              now: float | None = None) -> tuple[str, float]:
        """(the code, when it expires)."""
        if not 0 < ttl_s <= MAX_TTL_S:
            raise ValueError(f"an e-ID code lives at most {MAX_TTL_S:g} s")
        now = time.time() if now is None else now
        payload = {"v": 1, "n": name.strip(), "id": id_number.strip().upper(), "r": region,
                   "iat": int(now), "exp": int(now + ttl_s), "j": secrets.token_hex(8)}
        blob = self._sealer.seal(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(), CONTEXT)
        return PREFIX + base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii"), float(payload["exp"])

    def open(self, code: str) -> dict:
        """The payload of a code sealed with this key; EidRefused("eid_forged") otherwise."""
        code = code.strip()
        if not code.startswith(PREFIX) or len(code) > 1000:
            raise EidRefused("eid_forged")
        body = code[len(PREFIX):]
        try:
            blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            payload = json.loads(self._sealer.open(blob, CONTEXT))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise EidRefused("eid_forged") from None
        if not isinstance(payload, dict) or payload.get("v") != 1 or not all(
                isinstance(payload.get(k), t) for k, t in (("n", str), ("id", str), ("r", str), ("iat", int),
                                                            ("exp", int), ("j", str))):
            raise EidRefused("eid_forged")
        return payload


def verify(store: Store, key: EidKey, code: str, kiosk_id: str, now: float | None = None) -> EidIdentity:
    """Check a code shown at ``kiosk_id`` (sealed by the identity service, live, in the kiosk's
    region) and record its use.  Call inside a write transaction (with the grant's insert): the
    use and the grant commit together or not at all."""
    now = time.time() if now is None else now
    payload = key.open(code)
    resident_key = store.resident_key(payload["id"])
    if payload["exp"] <= now or payload["iat"] > now + CLOCK_SKEW_S or payload["exp"] - payload["iat"] > MAX_TTL_S:
        raise EidRefused("eid_expired", resident_key)
    row = store.one("SELECT region FROM kiosks WHERE kiosk_id = ?", (kiosk_id,))
    if row is None or row["region"] != payload["r"]:
        raise EidRefused("eid_wrong_region", resident_key)
    used = store.execute("INSERT INTO eid_codes_used (code_id, kiosk_id, used_at, expires_at) VALUES (?,?,?,?) "
                         "ON CONFLICT (code_id) DO NOTHING", (payload["j"], kiosk_id, now, float(payload["exp"])))
    if used.rowcount != 1:
        raise EidRefused("eid_used", resident_key)
    return EidIdentity(payload["n"], payload["id"], payload["r"], payload["j"], float(payload["exp"]))


def purge_used(store: Store, now: float | None = None) -> int:
    """Forget the uses of codes that have expired (they are refused as expired anyway)."""
    now = time.time() if now is None else now
    with store.write(durable=False):
        return store.execute("DELETE FROM eid_codes_used WHERE expires_at < ?", (now - CLOCK_SKEW_S,)).rowcount


def write_png(code: str, path: str | os.PathLike) -> Path:
    """The code as a QR image (what the phone shows), written atomically."""
    import io

    import qrcode
    from common.files import write_atomic

    image = qrcode.make(code, error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path = Path(path)
    write_atomic(path, buffer.getvalue(), mode=0o644)
    return path
