"""The platform's identity key: how a kiosk being enrolled tells the real platform
from an impostor.

The enrolment QR names the platform by the fingerprint of this Ed25519 key.
The kiosk sends a fresh random challenge with its one-time code and accepts
the answer only if it is signed, over the challenge and the answer's fields,
by the key with that fingerprint.  The public key is public: a server that
merely echoes it cannot sign, so cannot enrol a kiosk.  The private key is a
file beside the database, never in it (a database dump must not let anyone
impersonate the platform), mode 0600, created on first use.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.files import fsync_dir, stage

ENROL_CONTEXT = b"kiosk-enroll:v1\n"  # the kiosk builds the same bytes (provisioning/enroll.py)
SIGNED_FIELDS = ("kiosk_id", "token", "region", "menu_pubkeys")


class IdentityKeyError(Exception):
    """The identity key file is unusable; one line for the operator."""


def fingerprint(public_raw: bytes) -> str:
    """16 hex digits: the first 8 bytes of SHA-256 of the raw public key."""
    return hashlib.sha256(public_raw).digest()[:8].hex()


def enrolment_message(challenge: str, answer: dict) -> bytes:
    """What the platform signs: the kiosk's challenge and every field the kiosk will trust."""
    fields = {name: answer[name] for name in SIGNED_FIELDS}
    return ENROL_CONTEXT + challenge.encode("ascii") + b"\n" + json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class PlatformIdentity:
    def __init__(self, private_key: Ed25519PrivateKey):
        self._key = private_key
        self.public_raw = private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                                serialization.PublicFormat.Raw)
        self.public_b64 = base64.b64encode(self.public_raw).decode("ascii")
        self.fingerprint = fingerprint(self.public_raw)

    @classmethod
    def for_store(cls, store, path: str | os.PathLike | None = None) -> "PlatformIdentity":
        """The key at ``path``, else $CENTRAL_IDENTITY_KEY, else ``<db>.identity`` beside a SQLite file."""
        path = path or os.environ.get("CENTRAL_IDENTITY_KEY")
        if not path:
            if store.db_path is None:
                raise IdentityKeyError("a PostgreSQL platform needs --identity-key-file (or $CENTRAL_IDENTITY_KEY): "
                                       "the key that proves the platform to kiosks is kept outside the database")
            path = store.db_path.with_suffix(".identity")
        return cls.load_or_create(Path(path))

    @classmethod
    def load_or_create(cls, path: Path) -> "PlatformIdentity":
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            return cls._create(path)
        if mode & 0o077:
            raise IdentityKeyError(f"platform identity key {path} is readable by other users (mode {mode:04o}); "
                                   f"chmod 600 {path}")
        raw = path.read_bytes()
        if len(raw) != 32:
            raise IdentityKeyError(f"platform identity key {path} has {len(raw)} bytes, expected 32")
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    @classmethod
    def _create(cls, path: Path) -> "PlatformIdentity":
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        tmp = stage(path, raw)
        try:
            os.link(tmp, path)  # never replace a key another process created meanwhile
        except FileExistsError:
            return cls.load_or_create(path)
        finally:
            os.unlink(tmp)
        fsync_dir(path.parent)
        return cls(key)

    def sign_enrolment(self, challenge: str, answer: dict) -> str:
        return base64.b64encode(self._key.sign(enrolment_message(challenge, answer))).decode("ascii")
