"""Signed menu bundles: Ed25519 keys, signing, and the checks a kiosk makes before installing.

Bundle format ``kiosk-menu-bundle/1`` (UTF-8 JSON, served as application/json)::

    {"format": "kiosk-menu-bundle/1",
     "key_id": "<first 8 bytes of SHA-256 of the raw public key, hex>",
     "signature": "<base64 Ed25519 signature of b'kiosk-menu-bundle/1\\n' + payload>",
     "payload": "<base64 of the menu JSON bytes>"}

The signature covers the exact payload bytes, and version, region and expiry
live inside the payload, so none of them can be changed without the key.
Checks run cheapest-first and untrusted bytes are never fully parsed before
they are known to be small and shallow: size, a bounded-depth scan of the
envelope, key lookup among the pinned keys, signature, a bounded-depth scan of
the payload, parse, schema, region, expiry, rollback (TUF's lessons: reject
bad signatures, rollbacks and expired metadata, keep the last good copy).

Keys: ``PREFIX.key`` is the PKCS#8 PEM private key (mode 0600), ``PREFIX.pub``
one line of base64 of the raw 32-byte public key -- the form pinned in
``[menu] pubkeys``.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.menu import Menu, MenuError, menu_from_document

FORMAT = "kiosk-menu-bundle/1"
_DOMAIN = FORMAT.encode() + b"\n"  # a signature over a menu can never be replayed as anything else
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
MAX_PAYLOAD_DEPTH = 16  # the deepest legal menu path (form option labels) is 8 levels
_ENVELOPE_KEYS = ("format", "key_id", "signature", "payload")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKETS_ONLY = bytes(b for b in range(256) if b not in b"[]{}")


class BundleError(Exception):
    """A bundle the kiosk must not install; ``code`` is stable for tests, logs and the heartbeat."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class VerifiedBundle:
    menu: Menu
    key_id: str
    payload_sha256: str

    @property
    def version(self) -> int:
        return self.menu.version


# -- keys ---------------------------------------------------------------------
def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).digest()[:8].hex()


def public_raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A pinned key: base64 of the raw 32 bytes (the content of ``PREFIX.pub``)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not an Ed25519 public key (expected base64 of 32 bytes): {exc}") from None


def generate_keypair(prefix: str | Path) -> tuple[Path, Path]:
    """Write ``PREFIX.key`` (0600, refusing to overwrite) and ``PREFIX.pub``; return both paths."""
    prefix = Path(prefix)
    key_path, pub_path = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never briefly world-readable
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub_path.write_text(base64.b64encode(public_raw(private.public_key())).decode() + "\n")
    return key_path, pub_path


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


# -- signing --------------------------------------------------------------------
def canonical_payload(doc: dict) -> bytes:
    """Compact UTF-8 JSON: what is signed and shipped (whitespace-free, about a third smaller)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def sign_payload(payload: bytes, private: Ed25519PrivateKey) -> bytes:
    signature = private.sign(_DOMAIN + payload)
    envelope = {"format": FORMAT, "key_id": key_id(public_raw(private.public_key())),
                "signature": base64.b64encode(signature).decode(), "payload": base64.b64encode(payload).decode()}
    return json.dumps(envelope, indent=1).encode() + b"\n"


# -- verification -------------------------------------------------------------------
def json_depth_exceeds(data: bytes, limit: int) -> bool:
    """True when the JSON text nests arrays/objects deeper than ``limit``, without parsing it.

    Strings are blanked by one C-speed regex pass (brackets inside them do not count), the
    rest is reduced to its brackets, and only those are walked.  json.loads on a deeply
    nested document would otherwise recurse until RecursionError.
    """
    structure = _STRING.sub(b"", data).translate(None, _BRACKETS_ONLY)
    depth = 0
    for byte in structure:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _decode_b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise BundleError("malformed", f"bundle {what} is not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BundleError("malformed", f"bundle {what} is not valid base64") from None


def pinned_keys(pubkeys: list[str]) -> dict[str, Ed25519PublicKey]:
    """key_id -> key for the pinned keys (two at a time during a rotation)."""
    keys = {}
    for text in pubkeys:
        key = parse_public_key(text)
        keys[key_id(public_raw(key))] = key
    return keys


def verify_bundle(data: bytes, pubkeys: list[str] | dict[str, Ed25519PublicKey], region: str,
                  installed_version: int = 0, now: dt.datetime | None = None,
                  max_bytes: int = DEFAULT_MAX_BYTES, installed_sha256: str | None = None,
                  allow_expired: bool = False) -> VerifiedBundle:
    """The menu inside ``data`` if this kiosk may install it; otherwise BundleError.

    A bundle must be newer than ``installed_version``; the one exception is the very
    bundle already installed (same version and ``installed_sha256``), so a kiosk can
    re-install its own current menu after losing the file.  ``allow_expired`` is only for
    re-reading the kiosk's own installed copy at start-up (stale beats no menu; the store
    reports it), never for an update.
    """
    if len(data) > max_bytes:
        raise BundleError("oversize", f"bundle is {len(data)} bytes, more than the {max_bytes} allowed")
    if json_depth_exceeds(data, 1):
        raise BundleError("too_deep", "bundle envelope is nested; expected one flat JSON object")
    try:
        envelope = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError("malformed", f"bundle is not JSON: {exc}") from None
    if not isinstance(envelope, dict) or sorted(envelope) != sorted(_ENVELOPE_KEYS):
        raise BundleError("malformed", f"bundle must be an object with exactly {', '.join(_ENVELOPE_KEYS)}")
    if envelope["format"] != FORMAT:
        raise BundleError("malformed", f"unsupported bundle format {envelope['format']!r} (expected {FORMAT})")
    keys = pubkeys if isinstance(pubkeys, dict) else pinned_keys(pubkeys)
    key = keys.get(envelope["key_id"]) if isinstance(envelope["key_id"], str) else None
    if key is None:
        raise BundleError("unknown_key", f"bundle signed by key {envelope['key_id']!r}, which this kiosk does not pin")
    signature = _decode_b64(envelope["signature"], "signature")
    payload = _decode_b64(envelope["payload"], "payload")
    try:
        key.verify(signature, _DOMAIN + payload)
    except InvalidSignature:
        raise BundleError("bad_signature", "bundle signature does not match its content") from None
    if json_depth_exceeds(payload, MAX_PAYLOAD_DEPTH):
        raise BundleError("too_deep", f"menu nests deeper than {MAX_PAYLOAD_DEPTH} levels")
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError("malformed", f"menu is not JSON: {exc}") from None
    try:
        menu = menu_from_document(doc)
    except MenuError as exc:
        raise BundleError("invalid", f"menu does not match the schema: {exc}") from None
    if menu.region != region:
        raise BundleError("wrong_region", f"menu is for region {menu.region}, this kiosk serves {region}")
    now = now or dt.datetime.now(dt.timezone.utc)
    if now >= menu.expires and not allow_expired:
        raise BundleError("expired", f"menu version {menu.version} expired at {menu.expires.isoformat()}")
    digest = hashlib.sha256(payload).hexdigest()
    same_as_installed = menu.version == installed_version and digest == installed_sha256
    if menu.version <= installed_version and not same_as_installed:
        raise BundleError("rollback", f"menu version {menu.version} is not newer than the installed {installed_version}")
    return VerifiedBundle(menu, envelope["key_id"], digest)
