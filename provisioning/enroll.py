"""Enrolment: trade a one-time code for this kiosk's identity and secrets.

``kioskctl enroll --platform URL --code CODE`` (or the QR code read in
maintenance mode) asks the platform for a per-kiosk token, then writes in one
go: the token (0600, owned by the kiosk user), the queue encryption key (32
random bytes, 0600, only if none exists -- replacing it would orphan queued
applications), and the kiosk's config (id, region, platform URL, token file,
pinned menu keys).  Everything is staged in temp files and renamed only after
the platform said yes, so a wrong, used or expired code changes nothing.

The platform must prove who it is: the kiosk sends 32 fresh random bytes with
the code, and accepts the answer only if it is signed -- over that challenge
and every field the kiosk will trust -- by the Ed25519 identity key whose
fingerprint the technician brought (QR ``fp``, ``kioskctl enroll
--fingerprint``, printed by ``central enroll-code``).  A server that echoes
the platform's public keys cannot sign.  A production kiosk enrols over https
only; plain http is for a development kiosk talking to a platform on loopback.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import os
import pwd
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from common.files import commit, stage
from kiosk import config as cfg
from kiosk.menu_bundle import key_id
from kiosk.platform import AuthError, FinalError, PlatformClient, PlatformError, RetryableError, token_path
from offline_queue.crypto import KEY_BYTES, key_path
from provisioning.configfile import update_text

log = logging.getLogger(__name__)

KIOSK_USER = "kiosk"
QR_PREFIX = "kiosk-enroll:v1?"
ENROL_CONTEXT = b"kiosk-enroll:v1\n"  # what the platform signs starts so (central/platform_key.py)
SIGNED_FIELDS = ("kiosk_id", "token", "region", "menu_pubkeys")
EXAMPLE_CONFIG = cfg.PROJECT_ROOT / "kiosk.example.toml"


class EnrollError(Exception):
    """One line for the technician; nothing was changed on disk."""


@dataclass(frozen=True)
class EnrolQr:
    """What the technician's QR code holds: ``kiosk-enroll:v1?url=..&code=..&fp=..``.

    ``fp`` is the platform identity key's id (first 8 bytes of SHA-256 of the
    raw Ed25519 key, hex; ``central enroll-code`` prints it) -- the kiosk
    refuses a platform that cannot sign its challenge with that key, so a QR
    code cannot point a kiosk at an impostor platform.
    """
    url: str
    code: str
    fingerprint: str

    def encode(self) -> str:
        return (f"{QR_PREFIX}url={quote(self.url, safe='')}&code={quote(self.code, safe='')}"
                f"&fp={self.fingerprint}")


def parse_enrol_qr(text: str) -> EnrolQr:
    if not text.startswith(QR_PREFIX):
        raise EnrollError("this QR code is not a kiosk enrolment code (expected kiosk-enroll:v1?...)")
    fields = parse_qs(text[len(QR_PREFIX):], keep_blank_values=True)
    values = {}
    for name in ("url", "code", "fp"):
        found = fields.get(name, [])
        if len(found) != 1 or not found[0].strip():
            raise EnrollError(f"enrolment QR code has no {name}")
        values[name] = found[0].strip()
    if urlsplit(values["url"]).scheme not in ("https", "http") or not urlsplit(values["url"]).netloc:
        raise EnrollError("enrolment QR code holds a platform address that is not a web address")
    fp = values["fp"].lower()
    if len(fp) != 16 or any(c not in "0123456789abcdef" for c in fp):
        raise EnrollError("enrolment QR code holds a malformed key fingerprint (expected 16 hex digits)")
    return EnrolQr(values["url"], values["code"], fp)


def enrolment_message(challenge: str, answer: dict) -> bytes:
    """The bytes the platform signed: the challenge and the fields the kiosk will trust."""
    fields = {name: answer[name] for name in SIGNED_FIELDS}
    return ENROL_CONTEXT + challenge.encode("ascii") + b"\n" + json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def check_transport(platform_url: str, production: bool) -> None:
    """https for a production kiosk; plain http only to a platform on this machine (dev)."""
    parts = urlsplit(platform_url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise EnrollError(f"platform address {platform_url!r} is not a web address (https://...)")
    if parts.scheme == "https":
        return
    if production:
        raise EnrollError(f"a production kiosk enrols only over https, not {platform_url}")
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise EnrollError(f"plain http is only for a platform on loopback (development); use https for {host}")


def _verify_proof(result: dict, challenge: str, expected_fingerprint: str) -> None:
    """The answer must be signed over our challenge by the key the technician's fingerprint names."""
    try:
        raw = base64.b64decode(result.get("platform_key") or "", validate=True)
        signature = base64.b64decode(result.get("signature") or "", validate=True)
        if key_id(raw) != expected_fingerprint.lower():
            raise InvalidSignature
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, enrolment_message(challenge, result))
    except (binascii.Error, ValueError, InvalidSignature):
        raise EnrollError("the platform did not prove it holds the key of the fingerprint you gave; "
                          "not enrolling (wrong fingerprint, or an impostor platform)") from None


@dataclass(frozen=True)
class Enrolment:
    kiosk_id: str
    region: str
    config_path: Path
    token_path: Path
    queue_key_path: Path
    queue_key_created: bool
    pubkeys: list[str]


def _kiosk_owner() -> tuple[int, int] | None:
    try:
        entry = pwd.getpwnam(KIOSK_USER)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _refusal(exc: FinalError) -> str:
    """The platform's own reason when it gave one, else what the status means."""
    status = exc.status
    marker = f"-> {status}: "
    reason = str(exc).split(marker, 1)[1] if marker in str(exc) else ""
    if status == 410:
        return (reason or "enrolment code was already used or has expired") + \
            "; create a new one with `central enroll-code`"
    if status == 422:   # the platform's request validation: the code's shape, not its value
        return "enrolment code is not in the expected form (like K7QM-X2PA-9R); check it"
    if status in (400, 403, 404):
        return (reason or "enrolment code was not recognised") + "; check the code or create a new one"
    return f"the platform refused the enrolment: {exc}"


def _check_writable(*paths: Path) -> None:
    """Fail before spending the one-time code if we could not write the result."""
    for path in paths:
        probe = path if path.exists() else path.parent
        while not probe.exists():
            probe = probe.parent
        if not os.access(probe, os.W_OK):
            raise EnrollError(f"cannot write {path} (permission denied); run as root or choose --config-out")


def enroll(platform_url: str, code: str, config_out: Path, *, expected_fingerprint: str | None = None,
           kiosk_id: str | None = None, ca_bundle: str | None = None, hostname: str | None = None) -> Enrolment:
    """Enrol with the platform and write config and secrets; EnrollError changes nothing."""
    code = code.strip()
    if not code:
        raise EnrollError("no enrolment code given")
    if not expected_fingerprint:
        raise EnrollError("no platform key fingerprint given (the QR code's fp, or `central enroll-code`'s output)")
    config_out = Path(config_out)
    try:
        base_text = (config_out if config_out.exists() else EXAMPLE_CONFIG).read_text(encoding="utf-8")
        base = cfg.parse(base_text, str(config_out), config_out.resolve().parent)
    except (OSError, UnicodeDecodeError) as exc:
        raise EnrollError(f"cannot read {config_out}: {exc}") from None
    except cfg.ConfigError as exc:
        raise EnrollError(f"existing config is invalid, fix it first: {exc}") from None
    check_transport(platform_url, base.is_production)
    token_file = token_path(base).resolve()
    queue_key = key_path(base).resolve()
    _check_writable(config_out, token_file, queue_key)

    client = PlatformClient(platform_url, ca_bundle=ca_bundle or None)
    challenge = base64.b64encode(os.urandom(32)).decode("ascii")
    try:
        result = client.enroll(code, kiosk_id=kiosk_id, hostname=hostname or socket.gethostname(),
                               challenge=challenge)
    except AuthError as exc:
        raise EnrollError(_refusal(exc)) from None
    except FinalError as exc:
        raise EnrollError(_refusal(exc)) from None
    except RetryableError as exc:
        raise EnrollError(f"cannot reach the platform at {platform_url}: {exc}") from None
    except PlatformError as exc:
        raise EnrollError(f"enrolment failed: {exc}") from None
    finally:
        client.close()

    _verify_proof(result, challenge, expected_fingerprint)
    token, new_id = result.get("token"), result.get("kiosk_id")
    region, pubkeys = result.get("region"), result.get("menu_pubkeys")
    if not (isinstance(token, str) and token and isinstance(new_id, str) and new_id and isinstance(region, str)
            and isinstance(pubkeys, list) and all(isinstance(k, str) for k in pubkeys)):
        raise EnrollError("the platform's enrolment answer is incomplete (token, kiosk_id, region, menu_pubkeys)")

    updates = {
        "kiosk": {"id": new_id, "region": region},
        "platform": {"url": platform_url, "token_file": str(token_file),
                     **({"ca_bundle": ca_bundle} if ca_bundle else {})},
        "menu": {"pubkeys": list(pubkeys)},
    }
    try:
        new_text = update_text(base_text, updates, str(config_out))
    except cfg.ConfigError as exc:
        raise EnrollError(f"could not write the new config: {exc}") from None

    owner = _kiosk_owner()
    staged: list[tuple[Path, Path]] = []
    try:
        for secret_dir in {token_file.parent, queue_key.parent}:
            secret_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(secret_dir, 0o700)
            if owner:
                os.chown(secret_dir, *owner)
        staged.append((stage(token_file, token, 0o600, owner), token_file))
        key_created = not queue_key.exists()
        if key_created:
            staged.append((stage(queue_key, os.urandom(KEY_BYTES), 0o600, owner), queue_key))
        # Keep the config's mode and owner (install makes it root:kiosk 0640: the app reads it, never writes it).
        config_mode, config_owner = 0o644, None
        if config_out.exists():
            st = config_out.stat()
            config_mode = st.st_mode & 0o7777
            config_owner = (st.st_uid, st.st_gid) if os.geteuid() == 0 else None
        staged.append((stage(config_out, new_text, config_mode, config_owner), config_out))
        for tmp, final in staged:
            commit(tmp, final)
    except OSError as exc:
        for tmp, _final in staged:
            tmp.unlink(missing_ok=True)
        raise EnrollError(f"enrolled as {new_id}, but writing {exc.filename or 'the files'} failed "
                          f"({exc.strerror}); fix that and enrol again with a new code") from None
    log.info("kiosk enrolled as %s (region %s) with %s; %d menu key(s) pinned",
             new_id, region, urlsplit(platform_url).netloc, len(pubkeys))
    return Enrolment(new_id, region, config_out, token_file, queue_key, key_created, list(pubkeys))
