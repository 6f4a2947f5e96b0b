"""Client of the central platform, API v1 (see docs/api/openapi.json, docs/platform.md).

Every call has a timeout, TLS verification is on (a CA bundle can be pinned
with ``platform.ca_bundle``), and failures come back as typed errors so the
offline queue can tell "try again later" from "this will never succeed":

* :class:`RetryableError` -- timeouts, connection errors, 5xx, 408/409/425/429;
  carries ``retry_after`` (seconds) parsed from a Retry-After header given as
  seconds or as an HTTP date.
* :class:`FinalError` -- every other 4xx (validation: the item goes to the
  dead letters with the server's reason); :class:`AuthError` for 401/403
  (the kiosk token), :class:`PresenceRequired` for a 403 that asks for a
  presence grant (the resident has not proved presence at this kiosk).

Reads of a resident's data carry a presence grant (``X-Presence-Grant``):
from a matching :meth:`PlatformClient.verify_identity` (``presence_grant``
in its answer) or from :meth:`PlatformClient.grant_by_pickup` (the receipt's
pickup code with the card's ID number).  The session keeps it
(``Session.presence_grant``) and forgets it when it ends.

The heartbeat answer may hand over the kiosk's next token; the client saves
it (mode 0600, to the token file it reads) and uses it from then on.

Logs carry the method, the path template, the status and the duration --
never the token, never a payload (residents' data).
"""
from __future__ import annotations

import base64
import email.utils
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import requests

from common.files import write_atomic

log = logging.getLogger("kiosk.platform")

RETRYABLE_STATUSES = {408, 409, 425, 429}
SUBMIT_KINDS = ("application", "rating", "appeal", "print_report", "help", "supplement")


class PlatformError(Exception):
    """Any failure talking to the platform."""


class RetryableError(PlatformError):
    """Temporary: send the same request again later (same Idempotency-Key)."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class FinalError(PlatformError):
    """The platform refused the request; sending it again will not help."""

    def __init__(self, message: str, status: int | None):
        super().__init__(message)
        self.status = status


class AuthError(FinalError):
    """401/403: the kiosk token is missing, wrong or revoked (re-enrol)."""


class PresenceRequired(FinalError):
    """403 on a resident's data: no live presence grant for this resident at this kiosk (prove
    presence again: identity check, or pickup code with the card)."""


class EidRefused(FinalError):
    """POST /v1/eid/verify refused the code: ``code`` is the platform's machine code (eid_forged,
    eid_expired, eid_used, eid_wrong_region)."""

    def __init__(self, message: str, status: int | None, code: str):
        super().__init__(message, status)
        self.code = code


GRANT_HEADER = "X-Presence-Grant"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _reason(response: requests.Response) -> str:
    """The server's explanation (FastAPI ``detail``), short, for technicians."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or "")[:200]
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, dict):
        detail = detail.get("message", detail)
    if isinstance(detail, list):  # pydantic validation errors: name the fields, not the values
        parts = []
        for item in detail[:5]:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{where}: {item.get('msg', '')}")
        return "; ".join(parts)
    return str(detail)[:300]


def _asks_for_presence(response: requests.Response) -> bool:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return False
    return isinstance(detail, dict) and detail.get("presence_grant") == "required"


def _says_final(response: requests.Response) -> bool:
    """A 409 can be final too: the platform marks those ``"retryable": false`` (wrong print token)."""
    try:
        body = response.json()
    except ValueError:
        return False
    detail = body.get("detail") if isinstance(body, dict) else None
    for holder in (body, detail):
        if isinstance(holder, dict) and holder.get("retryable") is False:
            return True
    return False


def _b64(data: bytes | str | None) -> str | None:
    if data is None:
        return None
    if isinstance(data, str):
        return data
    return base64.b64encode(data).decode("ascii")


class PlatformClient:
    """Thread-safe: each thread gets its own HTTP connection pool."""

    def __init__(self, base_url: str, token: str | None = None, ca_bundle: str | None = None,
                 timeout: float = 10.0, token_file: str | Path | None = None):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.verify: bool | str = ca_bundle if ca_bundle else True
        self.timeout = timeout
        self._local = threading.local()
        # Without an explicit token, read it from token_file -- again whenever the file changes,
        # so an enrolment (or the embedded platform's first start) is picked up without a restart.
        self._token_file = Path(token_file) if token is None and token_file else None
        self._token_stamp: tuple | None = None

    def __repr__(self) -> str:  # never show the token
        return f"PlatformClient({self.base_url!r}, token={'set' if self.token else 'none'})"

    @classmethod
    def from_config(cls, config, base_url: str | None = None, token: str | None = None) -> "PlatformClient":
        """Client for ``[platform]``: url (empty: the embedded platform on loopback), token file, CA."""
        section = config.platform
        url = base_url or section.url or f"http://127.0.0.1:{section.local_port}"
        ca = str(config.path(section.ca_bundle)) if section.ca_bundle else None
        return cls(url, token=token, ca_bundle=ca, timeout=float(section.timeout_s),
                   token_file=token_path(config) if token is None else None)

    @property
    def token(self) -> str | None:
        """The bearer token (re-read from ``token_file`` when that file changes)."""
        if self._token_file is not None:
            try:
                stat = self._token_file.stat()
                stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # save_token renames: new inode
            except FileNotFoundError:
                stamp = None
            if stamp != self._token_stamp:
                self._token_stamp = stamp
                self._token = (self._token_file.read_text(encoding="utf-8").strip() or None) if stamp else None
        return self._token

    @token.setter
    def token(self, value: str | None) -> None:
        self._token, self._token_file = value, None

    # -- transport ---------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # a stray proxy variable must not reroute residents' data
            self._local.session = session
        return session

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    def _request(self, method: str, path: str, *, template: str | None = None, json: Any = None,
                 headers: dict[str, str] | None = None, auth: bool = True,
                 ok: tuple[int, ...] = (200, 201), expected: tuple[int, ...] = ()) -> requests.Response:
        """Send one request; return the response for statuses in ``ok``, else raise typed.

        A status in ``expected`` is still raised but not logged as a refusal: the caller
        knows it is an ordinary answer (no menu published yet) and logs what matters once."""
        send_headers = {"Accept": "application/json"}
        if auth:
            token = self.token
            if not token:
                raise AuthError("no kiosk token: enrol the kiosk first (kioskctl enroll)", None)
            send_headers["Authorization"] = f"Bearer {token}"
        send_headers.update(headers or {})
        label = f"{method} {template or path}"
        started = time.monotonic()
        try:
            # Session.request minus what a platform call never uses (cookies, hooks, redirects,
            # proxies -- trust_env is off): prepare the request and hand it to the session's
            # adapter.  Same headers on the wire, same exceptions; about 0.1 ms less per call.
            session = self._session()
            prepared = requests.PreparedRequest()
            prepared.prepare(method=method, url=self.base_url + path,
                             headers={**session.headers, **send_headers}, json=json)
            response = session.get_adapter(prepared.url).send(prepared, timeout=self.timeout,
                                                              verify=self.verify)
            response.content  # read the whole body now: a cut connection is a retryable error
        except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
                requests.exceptions.InvalidURL):
            raise FinalError(f"{label}: platform.url {self.base_url!r} is not a valid http(s) URL", None) from None
        except requests.exceptions.SSLError as exc:
            log.warning("%s: TLS verification failed (%s)", label, type(exc).__name__)
            raise RetryableError(f"{label}: TLS verification failed; check platform.ca_bundle") from None
        except requests.Timeout:
            log.info("%s: timed out after %.1f s", label, self.timeout)
            raise RetryableError(f"{label}: timed out after {self.timeout:g} s") from None
        except requests.RequestException as exc:
            log.info("%s: connection problem (%s)", label, type(exc).__name__)
            raise RetryableError(f"{label}: connection problem ({type(exc).__name__})") from None
        elapsed_ms = (time.monotonic() - started) * 1000
        status = response.status_code
        log.debug("%s -> %d in %.0f ms", label, status, elapsed_ms)
        if status in ok:
            return response
        reason = _reason(response)
        message = f"{label} -> {status}: {reason}" if reason else f"{label} -> {status}"
        if (status >= 500 or status in RETRYABLE_STATUSES) and not _says_final(response):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            log.info("%s -> %d (retry after %s)", label, status, retry_after)
            raise RetryableError(message, retry_after=retry_after, status=status)
        (log.debug if status in expected else log.warning)("%s -> %d refused", label, status)
        if status == 403 and _asks_for_presence(response):
            raise PresenceRequired(message, status)
        if status in (401, 403):
            raise AuthError(message, status)
        raise FinalError(message, status)

    def _json(self, response: requests.Response) -> dict:
        try:
            body = response.json()
        except ValueError:
            raise RetryableError(f"{response.request.method} -> {response.status_code}: "
                                 "the platform sent a body that is not JSON",
                                 status=response.status_code) from None
        if not isinstance(body, dict):
            raise RetryableError("the platform sent JSON that is not an object", status=response.status_code)
        return body

    # -- the contract ------------------------------------------------------------------------
    def enroll(self, code: str, kiosk_id: str | None = None, hostname: str | None = None,
               challenge: str | None = None) -> dict:
        """One-time code → {kiosk_id, token, region, menu_pubkeys, platform_key, signature}; sets
        ``self.token``.  The platform signs ``challenge`` (default: 32 fresh random bytes);
        provisioning.enroll checks that signature."""
        challenge = challenge or base64.b64encode(os.urandom(32)).decode("ascii")
        body = {"code": code, "kiosk_id": kiosk_id, "hostname": hostname, "challenge": challenge}
        result = self._json(self._request("POST", "/v1/enroll", json=body, auth=False))
        if result.get("token"):
            self.token = result["token"]
        return result

    def get_menu(self, etag: str | None = None) -> tuple[bytes | None, str | None]:
        """The published menu bundle; ``(None, etag)`` when ours is current (304)."""
        headers = {"Accept": "*/*"}
        if etag:
            headers["If-None-Match"] = etag
        response = self._request("GET", "/v1/menu", headers=headers, ok=(200, 304), expected=(404,))
        if response.status_code == 304:
            return None, etag
        return response.content, response.headers.get("ETag")

    def create_application(self, payload: dict, idempotency_key: str) -> dict:
        return self._json(self._request("POST", "/v1/applications", json=payload,
                                        headers={"Idempotency-Key": idempotency_key}))

    def application_status(self, application_no: str, grant: str) -> dict:
        """The applicant's own application (``grant``: their presence grant at this kiosk)."""
        return self._json(self._request("GET", f"/v1/applications/{application_no}",
                                        template="/v1/applications/{no}", headers={GRANT_HEADER: grant}))

    def verify_identity(self, card: dict, photo_wlt: bytes | str | None, face_jpeg: bytes | str) -> dict:
        """人证核验: {match, score, verification_id, presence_grant}. Images as bytes (or already base64)."""
        body = {"card": card, "photo_wlt_b64": _b64(photo_wlt), "face_jpeg_b64": _b64(face_jpeg)}
        return self._json(self._request("POST", "/v1/identity/verify", json=body))

    def verify_eid(self, code: str) -> dict:
        """电子身份证: {identity: {name, id_number}, carries, presence_grant}; raises EidRefused
        (with the platform's machine code) for a forged, expired, used or other region's code."""
        response = self._request("POST", "/v1/eid/verify", json={"code": code}, ok=(200, 403, 404, 410))
        if response.status_code != 200:
            detail = self._json(response).get("detail")
            code_ = detail.get("code") if isinstance(detail, dict) else None
            message = f"POST /v1/eid/verify -> {response.status_code}: {_reason(response)}"
            if not (isinstance(code_, str) and code_.startswith("eid_")):
                raise AuthError(message, response.status_code) if response.status_code == 403 \
                    else FinalError(message, response.status_code)
            raise EidRefused(message, response.status_code, code_)
        return self._json(response)

    def grant_by_pickup(self, pickup_code: str, id_number: str) -> str:
        """通办通取: the receipt's pickup code with the ID number of the card read here → a presence
        grant for that application.  404: no such code for this card; 410: collected or expired."""
        body = self._json(self._request("POST", "/v1/presence/pickup",
                                        json={"pickup_code": pickup_code, "id_number": id_number}))
        return str(body["presence_grant"])

    def reusable_materials(self, grant: str) -> list[dict]:
        """材料复用: materials the platform already holds for the resident present."""
        body = self._json(self._request("POST", "/v1/residents/materials", json={},
                                        headers={GRANT_HEADER: grant}))
        return list(body.get("materials", []))

    def contact_on_record(self, grant: str) -> dict:
        """材料复用 of contact details: ``{"phone", "address"}`` (None where the platform has none)
        the resident present gave before (identity grant only)."""
        body = self._json(self._request("POST", "/v1/residents/contact", json={}, headers={GRANT_HEADER: grant}))
        return {"phone": body.get("phone"), "address": body.get("address")}

    def resident_applications(self, grant: str) -> list[dict]:
        """我的办件: the applications of the resident present (all, or the pickup grant's one)."""
        body = self._json(self._request("POST", "/v1/residents/applications", json={},
                                        headers={GRANT_HEADER: grant}))
        return list(body.get("applications", []))

    def query_documents(self, grant: str) -> list[dict]:
        """The documents the grant covers: all the resident's, or one application's (pickup)."""
        body = self._json(self._request("POST", "/v1/documents/query", json={}, headers={GRANT_HEADER: grant}))
        return list(body.get("documents", []))

    def get_document(self, document_id: str, grant: str | None) -> dict:
        """The document's fields; ``grant`` None only for a document this kiosk's own application
        issued moments ago (打印证照 right after applying)."""
        return self._json(self._request("GET", f"/v1/documents/{document_id}", template="/v1/documents/{id}",
                                        headers={GRANT_HEADER: grant} if grant else None))

    def report_printed(self, document_id: str, print_token: str, result: str, detail: str = "",
                       idempotency_key: str | None = None) -> dict:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body = {"print_token": print_token, "result": result, "detail": detail}
        return self._json(self._request("POST", f"/v1/documents/{document_id}/printed", json=body,
                                        template="/v1/documents/{id}/printed", headers=headers))

    def rate(self, payload: dict, idempotency_key: str) -> dict:
        return self._json(self._request("POST", "/v1/ratings", json=payload,
                                        headers={"Idempotency-Key": idempotency_key}))

    def hand_in_supplement(self, payload: dict, idempotency_key: str) -> dict:
        """边办边补: ``payload`` is ``{"application_no", "materials": [...]}``; the answer says per
        material ``received``, ``not_needed``, ``deadline_passed`` or ``no_pages``."""
        number = payload.get("application_no")
        if not number:
            raise FinalError("a supplement needs its application_no", None)
        body = {"materials": payload.get("materials", [])}
        return self._json(self._request("POST", f"/v1/applications/{number}/supplements",
                                        template="/v1/applications/{no}/supplements", json=body,
                                        headers={"Idempotency-Key": idempotency_key}))

    def appeal(self, payload: dict, idempotency_key: str) -> dict:
        return self._json(self._request("POST", "/v1/appeals", json=payload,
                                        headers={"Idempotency-Key": idempotency_key}))

    def ask_for_help(self, payload: dict) -> dict:
        """帮助: ``{request_id, screen, requested_at, centre}`` (nothing about the resident) ->
        ``{request_id, status, received_at, acknowledged_at?}``; the same request id again is the
        same request (the queue's retries)."""
        return self._json(self._request("POST", "/v1/help", json=payload))

    def help_status(self, request_id: str) -> dict:
        """Whether staff acknowledged this kiosk's help request (``status``: open | acknowledged)."""
        return self._json(self._request("GET", f"/v1/help/{request_id}", template="/v1/help/{id}"))

    def heartbeat(self, payload: dict) -> dict:
        """Send the kiosk's health; a new token in the answer is saved and used from now on."""
        reply = self._json(self._request("POST", "/v1/heartbeat", json=payload))
        new_token = reply.get("token")
        if isinstance(new_token, str) and new_token:
            if self._token_file is not None:
                write_token(self._token_file, new_token)
            else:
                self._token = new_token
            log.info("the platform handed over a new kiosk token (saved)")
        return reply

    def create_applications(self, items: list[tuple[str, dict]]) -> list[dict | PlatformError]:
        """Several applications in one request, ``[(idempotency_key, payload), ...]`` in order.

        Returns one outcome per item for a prefix of ``items``: the response, or the
        :class:`FinalError` / :class:`RetryableError` that item alone would have raised.  Items
        past the prefix were not processed (one was still in progress elsewhere): send them
        again.  A failure of the whole request raises, as any call does.
        """
        body = {"items": [{"idempotency_key": key, "application": payload} for key, payload in items]}
        results = self._json(self._request("POST", "/v1/applications/batch", json=body)).get("results")
        keys = [key for key, _ in items]
        if (not isinstance(results, list) or len(results) > len(items) or not all(
                isinstance(r, dict) and isinstance(r.get("body"), dict) for r in results)
                or [r.get("idempotency_key") for r in results] != keys[:len(results)]):
            raise RetryableError("POST /v1/applications/batch: the results do not match the items sent")
        return [_batch_outcome(result) for result in results]

    def submit(self, kind: str, payload: dict, idempotency_key: str) -> dict:
        """The offline queue's single entry point: send one queued item of ``kind``."""
        if kind == "application":
            return self.create_application(payload, idempotency_key)
        if kind == "rating":
            return self.rate(payload, idempotency_key)
        if kind == "appeal":
            return self.appeal(payload, idempotency_key)
        if kind == "help":
            return self.ask_for_help(payload)
        if kind == "supplement":
            return self.hand_in_supplement(payload, idempotency_key)
        if kind == "print_report":
            try:
                document_id, token = payload["document_id"], payload["print_token"]
            except (KeyError, TypeError):
                raise FinalError("print_report needs document_id and print_token", None) from None
            return self.report_printed(document_id, token, payload.get("result", "printed"),
                                       payload.get("detail", ""), idempotency_key=idempotency_key)
        raise FinalError(f"unknown item kind {kind!r} (known: {', '.join(SUBMIT_KINDS)})", None)


def _batch_outcome(result: dict) -> dict | PlatformError:
    status, body = result.get("status"), result["body"]
    if status in (200, 201):
        return body
    message = f"POST /v1/applications/batch item -> {status}: {body.get('detail')}"
    if status in RETRYABLE_STATUSES or (isinstance(status, int) and status >= 500):
        return RetryableError(message, status=status)
    return FinalError(message, status if isinstance(status, int) else None)


def token_path(config) -> Path:
    """Where the kiosk token lives: ``platform.token_file`` or data_dir/secrets/platform.token."""
    if config.platform.token_file:
        return config.path(config.platform.token_file)
    return config.data_dir / "secrets" / "platform.token"


def save_token(config, token: str) -> Path:
    """Write the token readable by the kiosk user only (mode 0600)."""
    return write_token(token_path(config), token)


def write_token(path: Path, token: str) -> Path:
    """Replace the token file durably, mode 0600 (a new inode: readers notice the change)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, token)
    return path
