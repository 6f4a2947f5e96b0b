"""The platform's secrets and the sealing of residents' fields at rest (AES-256-GCM).

Two secret files live outside the database, each created 0600 on first use: the *pepper*
(HMAC key of ``resident_key``: residents are found by a keyed hash, never by their ID
number) and the *data key* (seals names, addresses, phones, forms, documents, appeals,
comments and scanned pages).  A copy of the database alone therefore reveals no resident;
a copy of the database with the data key reveals them, so keep the key off the database
server and out of its backups.

The scheme is the kiosk outbox's, shared from common/sealing.py: ``nonce || ciphertext+tag``
with what the value belongs to (table, column, row) as associated data, so a sealed value
copied into another row does not open.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path


from common import sealing as common_sealing

SECRET_BYTES = 32


class SecretFileError(RuntimeError):
    """A secret file is missing, unreadable or not this database's: one line for the operator."""


def load_or_create_secret(path: Path, create: bool) -> bytes:
    """The 32-byte secret in ``path`` (hex text); created 0600 only when ``create`` is true
    (a new database).  Two processes creating it at once agree on the first one written."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        if not create:
            raise SecretFileError(f"secret file {path} is missing, but this database was used with one") from None
        return _create_secret(path)
    except PermissionError:
        raise SecretFileError(f"secret file {path} is not readable (permission denied)") from None
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != SECRET_BYTES:
        raise SecretFileError(f"secret file {path} does not hold {SECRET_BYTES} bytes in hex")
    return value


def _create_secret(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(SECRET_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return load_or_create_secret(path, create=False)
    with open(fd, "w") as handle:
        handle.write(value.hex())
        handle.flush()
        os.fsync(handle.fileno())
    return value


def fingerprint(secret: bytes, purpose: str) -> str:
    """What the database keeps to recognise its secret (never the secret, nor enough to find it)."""
    return hmac.new(secret, f"central {purpose} check".encode(), hashlib.sha256).hexdigest()[:16]


class Sealer(common_sealing.Sealer):
    """Seals and opens residents' fields (common/sealing.py's scheme), bound to their row."""

    def does_not_open(self, context: str) -> Exception:
        return SecretFileError(f"stored {context} does not decrypt with this data key "
                               "(wrong key, or the value was moved from another row)")
