"""The admin credential: separate from every kiosk token, stored as an scrypt hash (hashlib).

``central admin set-password`` stores it; the fleet page (HTTP Basic) and the admin API
(``X-Admin-Token``) check it.  The comparison is on bytes (``hmac.compare_digest``), so a header
with non-ASCII characters is a wrong password, not a server error.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from central.storage import Store

SETTING = "admin_credential"
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MIN_LENGTH = 12


class WeakPassword(ValueError):
    pass


def _derive(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def set_password(store: Store, password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the admin password needs at least {MIN_LENGTH} characters")
    salt = secrets.token_bytes(16)
    digest = _derive(password.encode("utf-8"), salt, **SCRYPT)
    store.set_setting(SETTING, {**SCRYPT, "salt": salt.hex(), "hash": digest.hex()})


def is_set(store: Store) -> bool:
    return store.get_setting(SETTING) is not None


def verify(store: Store, password: bytes) -> bool:
    """Is ``password`` (raw bytes as received) the admin password?  False when none is set."""
    stored = store.get_setting(SETTING)
    if stored is None or not password:
        return False
    digest = _derive(password, bytes.fromhex(stored["salt"]), stored["n"], stored["r"], stored["p"])
    return hmac.compare_digest(digest, bytes.fromhex(stored["hash"]))
