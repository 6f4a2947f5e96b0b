"""``central``: run and administer the reference platform.

    central serve [--host 127.0.0.1] [--port 8765] [--port-file F] [--workers N] [--docs]
                  [--faults-file F]         (fault injection: tests only)
    central admin set-password [--password-file F]   (the fleet page's credential, stored as scrypt)
    central enroll-code [--ttl 24h] [--region 440304]
    central kiosk-token KIOSK_ID            (dev/test: register a kiosk without a code)
    central eid issue --id-number N [--name NAME] [--ttl 60s] [--region 440304] [--png F]
                                            (the identity service: an e-ID QR code for a resident's phone)
    central applications list [--status accepted] | approve NO
    central applications supplement NO --accept | --reject REASON [--material ID]  (边办边补)
    central kiosks [KIOSK_ID]               (fleet, what needs attention first; one kiosk's history)
    central kiosks revoke KIOSK_ID          (a stolen kiosk: its token and grants stop working now)
    central help [list] | help ack REQUEST_ID [--by NAME]   (residents asking for staff at a kiosk)
    central audit [--kiosk ID] [--limit 100]   (reads of residents' data)
    central menu publish BUNDLE | menu pubkeys KEY...
    central seed-dev --kiosk-id ID --token-file F   (what the embedded platform needs)
    central maintenance [--key-retention 180d] [--heartbeat-retention 3d] [--audit-retention 180d]   (what serve runs hourly, once)

The database is ``--db`` (or $CENTRAL_DB, default var/central/central.db): a SQLite file
or a ``postgresql://`` URL.  The resident-key pepper is ``--pepper-file`` (or
$CENTRAL_PEPPER); beside a SQLite file by default, required with PostgreSQL.  The data key
that seals residents' fields is ``--key-file`` (or $CENTRAL_KEY); beside the pepper by default.
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from central import admin, audit, credentials, maintenance, supplements, tokens
from central import help as help_requests
from central.faults import FaultInjector
from central.platform_key import IdentityKeyError, PlatformIdentity
from central.storage import Store, dialect_for


class UsageError(Exception):
    pass


def _duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 24h or 7d")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _setup_logging() -> None:
    from kiosk.logs import RedactionFilter
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactionFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _announce(args, store: Store, port: int) -> None:
    if args.port_file:
        tmp = Path(args.port_file).with_suffix(".tmp")
        tmp.write_text(str(port))
        tmp.replace(args.port_file)
    print(f"central: listening on http://{args.host}:{port} (database {store.location})", flush=True)
    if args.workers > 1:
        print(f"central: {args.workers} worker processes", flush=True)
    if credentials.is_set(store):
        print(f"central: fleet page http://{args.host}:{port}/admin/fleet (password: the admin credential)",
              flush=True)
    if args.faults_file:
        print("central: fault injection is ON (--faults-file): a test server, not for production", flush=True)


def cmd_serve(args, store: Store) -> int:
    _setup_logging()
    if args.workers > 1:
        return _serve_workers(args, store)
    from central.app import create_app
    from central.testing import ServerThread
    injector = FaultInjector(file=args.faults_file) if args.faults_file else None
    try:
        server = ServerThread(create_app(store, injector, docs=args.docs, platform_key=_identity(args, store)),
                              args.host, args.port).start()
    except RuntimeError:
        raise UsageError(f"cannot listen on {args.host}:{args.port} (port in use?)") from None
    _announce(args, store, server.port)
    housekeeping = maintenance.Maintenance(store, _retention(args), every_s=args.maintenance_every,
                                           first_after_s=min(30.0, args.maintenance_every)).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if not server.thread.is_alive():
                print("central: server stopped unexpectedly", file=sys.stderr)
                return 1
        server.stop()
        return 0
    finally:
        housekeeping.stop()


def _serve_workers(args, store: Store) -> int:
    """Several uvicorn worker processes on one socket (uvicorn's supervisor); each builds its app
    from the environment (central.app.app_from_environment): the state they share is the database."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess
    pepper = args.pepper_file or ("" if store.db_path is None else str(store.db_path.with_suffix(".pepper")))
    _identity(args, store)  # created here, once, before the workers read it
    os.environ.update({"CENTRAL_DB": str(args.db), "CENTRAL_PEPPER": pepper, "CENTRAL_KEY": args.key_file or "",
                       "CENTRAL_IDENTITY_KEY": _identity_path(args) or "",
                       "CENTRAL_DOCS": "1" if args.docs else "", "CENTRAL_FAULTS_FILE": args.faults_file or ""})
    config = uvicorn.Config("central.app:app_from_environment", factory=True, host=args.host, port=args.port,
                            workers=args.workers, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=2)
    try:
        sock = config.bind_socket()
    except SystemExit:
        raise UsageError(f"cannot listen on {args.host}:{args.port} (port in use?)") from None
    _announce(args, store, sock.getsockname()[1])
    housekeeping = maintenance.Maintenance(store, _retention(args), every_s=args.maintenance_every,
                                           first_after_s=min(30.0, args.maintenance_every)).start()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        housekeeping.stop()
    return 0


def cmd_admin(args, store: Store) -> int:
    if args.password_file:
        password = Path(args.password_file).read_text(encoding="utf-8").strip()
    elif sys.stdin.isatty():
        import getpass
        password = getpass.getpass("new admin password: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("the two passwords differ")
    else:
        password = sys.stdin.readline().strip()
    try:
        credentials.set_password(store, password)
    except credentials.WeakPassword as exc:
        raise UsageError(str(exc)) from None
    print("admin credential stored (scrypt hash); the fleet page asks for it")
    return 0


def cmd_audit(args, store: Store) -> int:
    rows = audit.entries(store, kiosk_id=args.kiosk, limit=args.limit)
    if not rows:
        print("no reads of residents' data recorded")
        return 0
    print(f"{'WHEN':<19} {'KIOSK':<16} {'RESIDENT KEY':<14} {'OUTCOME':<20} WHAT")
    for r in rows:
        when = dt.datetime.fromtimestamp(r["at"]).strftime("%Y-%m-%d %H:%M:%S")
        resident = (r["resident_key"] or "-")[:12]
        what = f"{r['action']} {r['target'] or ''}".strip()
        print(f"{when:<19} {r['kiosk_id']:<16} {resident:<14} {r['outcome']:<20} {what}")
    return 0


def _retention(args) -> maintenance.Retention:
    return maintenance.Retention(keys_s=args.key_retention, heartbeats_s=args.heartbeat_retention,
                                 audit_s=args.audit_retention)


def cmd_maintenance(args, store: Store) -> int:
    removed = maintenance.run(store, _retention(args))
    print(f"removed {removed['idempotency_keys']} idempotency key(s) unused for {_days(args.key_retention)}")
    print(f"removed {removed['heartbeats']} heartbeat sample(s) older than {_days(args.heartbeat_retention)}")
    for kind in ("scans", "documents", "appeals", "ratings", "verifications"):  # central/retention.py
        print(f"{removed[kind]} {maintenance.LABELS[kind]}")
    print(f"removed {removed['presence_grants']} ended presence grant(s) and {removed['rate_limits']} ended "
          f"rate-limit count(s)")
    print(f"removed {removed['audit_entries']} audit entries older than {_days(args.audit_retention)}")
    return 0


def _days(seconds: float) -> str:
    return f"{seconds / 86400:g} days" if seconds >= 86400 else f"{seconds:g} s"


def _identity_path(args) -> str | None:
    """--identity-key-file, else beside the pepper file, else None (PlatformIdentity.for_store decides)."""
    return args.identity_key_file or (str(Path(args.pepper_file).with_suffix(".identity")) if args.pepper_file else None)


def _identity(args, store: Store) -> PlatformIdentity:
    try:
        return PlatformIdentity.for_store(store, _identity_path(args))
    except IdentityKeyError as exc:
        raise UsageError(str(exc)) from None


def cmd_enroll_code(args, store: Store) -> int:
    fingerprint = _identity(args, store).fingerprint
    code = admin.create_enroll_code(store, args.region, args.ttl)
    expires = dt.datetime.now() + dt.timedelta(seconds=args.ttl)
    print(f"{code}   (region {args.region}, one use, expires {expires:%Y-%m-%d %H:%M})")
    print(f"platform key fingerprint {fingerprint}   (kioskctl enroll --fingerprint / enroll-qr --fingerprint)")
    return 0


def cmd_eid(args, store: Store) -> int:
    """The reference platform plays the identity service: an e-ID code (and its QR as a PNG)."""
    from central import eid
    number = args.id_number.strip().upper()
    if not eid.id_number_valid(number):
        raise UsageError("--id-number is not an 18-character ID number with a valid check digit")
    if not 0 < args.ttl <= eid.MAX_TTL_S:
        raise UsageError(f"--ttl must be more than 0 and at most {eid.MAX_TTL_S:g}s")
    code, expires = eid.EidKey.for_store(store).issue(number, args.name, args.region, args.ttl)
    png = eid.write_png(code, args.png or "eid-qr.png")
    print(code)
    print(f"(region {args.region}, one use, expires {dt.datetime.fromtimestamp(expires):%H:%M:%S}; QR in {png})",
          file=sys.stderr)
    return 0


def cmd_kiosk_token(args, store: Store) -> int:
    print(admin.issue_kiosk_token(store, args.kiosk_id, args.region))
    return 0


def cmd_applications(args, store: Store) -> int:
    if args.action == "approve":
        if not args.number:
            raise UsageError("usage: central applications approve APPLICATION_NO")
        try:
            row = admin.approve_application(store, args.number)
        except admin.AdminError as exc:
            raise UsageError(str(exc)) from None
        print(f"{row['application_no']} approved; its document (if any) is ready to print")
        return 0
    if args.action == "supplement":
        return _decide_supplement(args, store)
    rows = admin.list_applications(store, args.status, args.limit)
    if not rows:
        print("no applications")
        return 0
    print(f"{'APPLICATION NO':<22} {'STATUS':<9} {'KIND':<10} {'RECEIVED':<16} {'DUE':<10} {'KIOSK':<16} SERVICE")
    for r in rows:
        kind = r["kind"] + ("*" if r["offline"] else "")
        print(f"{r['application_no']:<22} {r['status']:<9} {kind:<10} {_when(r['received_at']):<16} "
              f"{r['expected_completion']:<10} {r['kiosk_id']:<16} {r['service_name']}")
        for owed in supplements.owed_of(store, r["application_no"]):  # 边办边补
            reason = f" ({owed['reason']})" if owed["reason"] else ""
            print(f"{'':<22}   owes {owed['material_id']} {owed['name']} by {owed['deadline']}: "
                  f"{owed['status']}{reason}")
    print("(* sent from a kiosk's offline queue)")
    return 0


def _decide_supplement(args, store: Store) -> int:
    if not args.number or args.accept == bool(args.reject):
        raise UsageError("usage: central applications supplement APPLICATION_NO --accept | --reject REASON "
                         "[--material ID]")
    try:
        owed = supplements.decide(store, args.number, accept=args.accept, reason=args.reject,
                                  material_id=args.material)
    except supplements.SupplementError as exc:
        raise UsageError(str(exc)) from None
    for o in owed:
        reason = f" ({o['reason']})" if o["reason"] else ""
        print(f"{args.number} {o['material_id']} {o['name']}: {o['status']}{reason}")
    return 0


def cmd_kiosks(args, store: Store) -> int:
    if args.words[:1] == ["revoke"]:
        if len(args.words) != 2:
            raise UsageError("usage: central kiosks revoke KIOSK_ID")
        if not tokens.revoke(store, args.words[1]):
            raise UsageError(f"no kiosk {args.words[1]}")
        print(f"kiosk {args.words[1]} revoked: its token and presence grants no longer work; "
              "enrol it again with a new code to bring it back")
        return 0
    if len(args.words) > 1:
        raise UsageError("usage: central kiosks [KIOSK_ID] | kiosks revoke KIOSK_ID")
    if args.words:
        return _kiosk_history(args.words[0], store)
    kiosks = admin.fleet(store)
    if not kiosks:
        print("no kiosks enrolled")
        return 0
    print(f"{'KIOSK':<20} {'LAST SEEN':<16} {'QUEUE':>5} {'DEAD':>4} {'VERSION':<10} ATTENTION")
    for k in kiosks:
        attention = "; ".join(k.problems) or "ok"
        print(f"{k.kiosk_id:<20} {_when(k.last_seen):<16} {k.queue_depth:>5} {k.dead:>4} {k.version:<10} {attention}")
        note = k.history_note(_when)
        if note:
            print(f"{'':<20} └ last 24 h: {note}")
        helped = k.help_note(_when)
        if helped:
            print(f"{'':<20} └ help: {helped}")
    return 0


def cmd_help(args, store: Store) -> int:
    """Open help requests, oldest first; ``ack ID`` (or 8+ characters of it): staff are on the way."""
    if args.action == "ack":
        if not args.request_id:
            raise UsageError("usage: central help ack REQUEST_ID [--by NAME]")
        by = args.by or os.environ.get("SUDO_USER") or os.environ.get("USER") or "staff"
        try:
            request, acknowledged = help_requests.acknowledge(
                store, help_requests.find(store, args.request_id).request_id, f"{by} (cli)", via="central help ack")
        except help_requests.HelpNotFound as exc:
            raise UsageError(str(exc)) from None
        if not acknowledged:
            print(f"help request {request.request_id[:8]} at {request.kiosk_id} was already acknowledged "
                  f"{_when(request.acknowledged_at)} by {request.acknowledged_by}")
            return 0
        print(f"help request {request.request_id[:8]} at {request.kiosk_id} acknowledged by {request.acknowledged_by} "
              f"after {help_requests.age(request.response_time_s())}; the kiosk shows 工作人员正在赶来")
        return 0
    if args.request_id:
        raise UsageError("usage: central help [list] | help ack REQUEST_ID [--by NAME]")
    now = time.time()
    requests = help_requests.open_requests(store)
    if not requests:
        print("no open help requests")
        return 0
    print(f"{'REQUEST':<10} {'KIOSK':<20} {'SCREEN':<16} {'WAITING':>10}  CENTRE")
    for r in requests:
        print(f"{r.request_id[:8]:<10} {r.kiosk_id:<20} {r.screen:<16} {help_requests.age(now - r.received_at):>10}  "
              f"{r.centre or ''}")
    return 0


def _kiosk_history(kiosk_id: str, store: Store) -> int:
    row = store.one("SELECT last_seen, revoked FROM kiosks WHERE kiosk_id = ?", (kiosk_id,))
    if row is None:
        raise UsageError(f"no kiosk {kiosk_id}")
    events = admin.kiosk_history(store, kiosk_id)
    state = " (revoked)" if row["revoked"] else ""
    print(f"{kiosk_id}{state}: last heartbeat {_when(row['last_seen'])}; history of the last "
          f"{_days(maintenance.Retention().heartbeats_s)} (changes, restarts, silences)")
    if not events:
        print("no heartbeat history")
        return 0
    print(f"{'TIME':<16} {'QUEUE':>5} {'DEAD':>4} {'FAULTS':>6} {'UPTIME':>8}  WHAT")
    for e in events:
        uptime = f"{int(e.uptime_s // 3600)}h{int(e.uptime_s % 3600 // 60):02d}m"
        print(f"{_when(e.at):<16} {e.queue_depth:>5} {e.dead:>4} {e.faults:>6} {uptime:>8}  {e.note}")
    return 0


def cmd_menu(args, store: Store) -> int:
    if args.action == "publish":
        path = Path(args.values[0]) if args.values else None
        if path is None or not path.is_file():
            raise UsageError(f"menu publish needs a bundle file (got {args.values[0] if args.values else 'none'})")
        etag = admin.publish_menu(store, path.read_bytes())
        print(f"published {path.name} ({path.stat().st_size} bytes), ETag {etag}")
        return 0
    store.set_setting("menu_pubkeys", list(args.values))
    print(f"{len(args.values)} menu public key(s) will be given to kiosks at enrolment")
    return 0


def cmd_seed_dev(args, store: Store) -> int:
    """Dev kiosk token plus a ready document for the sample resident (idempotent)."""
    from central.devseed import seed
    path = Path(args.token_file)
    current = path.read_text().strip() if path.exists() else None
    token = seed(store, args.kiosk_id, args.region, current_token=current)
    if args.menu_bundle:
        admin.publish_menu(store, Path(args.menu_bundle).read_bytes())
    if args.menu_pubkey:
        store.set_setting("menu_pubkeys", args.menu_pubkey[:2])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w") as handle:
        handle.write(token)
    path.with_suffix(".tmp").replace(path)
    print(f"dev kiosk {args.kiosk_id} seeded; token in {path}")
    return 0


def openapi_document() -> dict:
    """The published contract, generated from the app (docs/api/openapi.json)."""
    import tempfile
    from central.app import create_app
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "schema.db")
        try:
            return create_app(store).openapi()
        finally:
            store.close()


def cmd_openapi(args, store: Store | None) -> int:
    import json
    text = json.dumps(openapi_document(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _retention_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key-retention", type=_duration, default=maintenance.Retention().keys_s,
                        help=f"forget idempotency keys unused this long (default {maintenance.KEY_RETENTION_DAYS}d; "
                             "must exceed the longest a kiosk may hold an unacknowledged item)")
    parser.add_argument("--heartbeat-retention", type=_duration, default=maintenance.Retention().heartbeats_s,
                        help=f"keep heartbeat history this long (default {maintenance.HEARTBEAT_RETENTION_DAYS}d)")
    parser.add_argument("--audit-retention", type=_duration, default=maintenance.Retention().audit_s,
                        help=f"keep the audit log this long (default {audit.AUDIT_RETENTION_DAYS}d)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="central", description="Reference central platform for the kiosks.")
    p.add_argument("--db", default=os.environ.get("CENTRAL_DB", "var/central/central.db"),
                   help="SQLite file or postgresql://user@host/dbname URL (default $CENTRAL_DB or "
                        "var/central/central.db); keep passwords out of the URL: ~/.pgpass or $PGPASSWORD")
    p.add_argument("--pepper-file", default=os.environ.get("CENTRAL_PEPPER") or None,
                   help="the resident-key secret (default $CENTRAL_PEPPER, else <db>.pepper beside a SQLite "
                        "file; required with PostgreSQL); created on first use")
    p.add_argument("--identity-key-file", default=os.environ.get("CENTRAL_IDENTITY_KEY") or None,
                   help="the platform's Ed25519 identity key that enrolling kiosks verify (default "
                        "$CENTRAL_IDENTITY_KEY, else <db>.identity beside a SQLite file; required with "
                        "PostgreSQL); created on first use, 0600")
    p.add_argument("--key-file", default=os.environ.get("CENTRAL_KEY") or None,
                   help="the data key sealing residents' fields at rest (default $CENTRAL_KEY, else beside the "
                        "pepper file, suffix .key); created on first use; keep it off the database server")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the HTTP API")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765, help="0: any free port (see --port-file)")
    s.add_argument("--port-file", help="write the bound port here once listening")
    s.add_argument("--faults-file", help="TESTS ONLY: enable fault injection from this JSON file, re-read when "
                                         "it changes, and PUT /admin/faults (central/faults.py)")
    s.add_argument("--docs", action="store_true", help="serve /docs, /redoc and /openapi.json (off by default)")
    s.add_argument("--workers", type=int, default=1, help="worker processes (default 1); they share only the "
                                                          "database")
    s.add_argument("--maintenance-every", type=_duration, default=3600.0,
                   help="housekeeping interval (default 1h; the first round 30 s after start)")
    _retention_options(s)
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("maintenance", help="housekeeping once: idempotency keys, heartbeat history and "
                                          "residents' data past their retention")
    _retention_options(s)
    s.set_defaults(func=cmd_maintenance)

    s = sub.add_parser("enroll-code", help="create a one-time enrolment code")
    s.add_argument("--ttl", type=_duration, default=86400.0, help="validity, e.g. 30m, 24h, 7d (default 24h)")
    s.add_argument("--region", default=admin.DEFAULT_REGION)
    s.set_defaults(func=cmd_enroll_code)

    s = sub.add_parser("kiosk-token", help="register a kiosk without a code and print its token (dev/test)")
    s.add_argument("kiosk_id")
    s.add_argument("--region", default=admin.DEFAULT_REGION)
    s.set_defaults(func=cmd_kiosk_token)

    s = sub.add_parser("eid", help="the identity service: issue an e-ID QR code (prints the code, writes a PNG)")
    s.add_argument("action", choices=("issue",))
    s.add_argument("--id-number", required=True)
    s.add_argument("--name", default="", help="the name the e-ID carries")
    s.add_argument("--ttl", type=_duration, default=60.0, help="validity, e.g. 60s (at most 10m; default 60s)")
    s.add_argument("--region", default=admin.DEFAULT_REGION, help="the region whose kiosks accept it")
    s.add_argument("--png", help="where to write the QR image (default eid-qr.png)")
    s.set_defaults(func=cmd_eid)

    s = sub.add_parser("applications", help="list or approve applications; accept or reject a supplement (边办边补)")
    s.add_argument("action", choices=("list", "approve", "supplement"))
    s.add_argument("number", nargs="?")
    s.add_argument("--accept", action="store_true", help="supplement: accept what was handed in")
    s.add_argument("--reject", metavar="REASON", help="supplement: reject it, with the reason the resident reads")
    s.add_argument("--material", metavar="ID", help="supplement: only this material (default: every one handed in)")
    s.add_argument("--status", choices=("accepted", "approved", "rejected"))
    s.add_argument("--limit", type=int, default=50)
    s.set_defaults(func=cmd_applications)

    s = sub.add_parser("kiosks", help="the fleet, what needs attention first; with KIOSK_ID its heartbeat "
                                      "history; `revoke KIOSK_ID` cuts a kiosk off")
    s.add_argument("words", nargs="*", metavar="KIOSK_ID | revoke KIOSK_ID")
    s.set_defaults(func=cmd_kiosks)

    s = sub.add_parser("help", help="residents asking for staff: list the open requests; `ack ID` says someone "
                                    "is on the way (the kiosk shows 工作人员正在赶来)")
    s.add_argument("action", nargs="?", choices=("list", "ack"), default="list")
    s.add_argument("request_id", nargs="?", help="the request's id, or its first 8 characters")
    s.add_argument("--by", help="who answers (default: your login name)")
    s.set_defaults(func=cmd_help)

    s = sub.add_parser("admin", help="the admin credential (fleet page, admin API)")
    s.add_argument("action", choices=("set-password",))
    s.add_argument("--password-file", help="read it from this file (else asked for, or one line on stdin)")
    s.set_defaults(func=cmd_admin)

    s = sub.add_parser("audit", help="list reads of residents' data, newest first")
    s.add_argument("--kiosk", help="only this kiosk's")
    s.add_argument("--limit", type=int, default=100)
    s.set_defaults(func=cmd_audit)

    s = sub.add_parser("menu", help="publish the signed menu bundle / set the pinned public keys")
    s.add_argument("action", choices=("publish", "pubkeys"))
    s.add_argument("values", nargs="*", help="publish: BUNDLE file; pubkeys: base64 Ed25519 keys (max 2)")
    s.set_defaults(func=cmd_menu)

    s = sub.add_parser("openapi", help="print the API contract (OpenAPI JSON)")
    s.add_argument("--out", help="write it here (docs/api/openapi.json) instead of stdout")
    s.set_defaults(func=cmd_openapi)

    s = sub.add_parser("seed-dev", help="token and sample documents for the dev kiosk")
    s.add_argument("--kiosk-id", required=True)
    s.add_argument("--region", default=admin.DEFAULT_REGION)
    s.add_argument("--token-file", required=True)
    s.add_argument("--menu-bundle", help="also publish this signed menu bundle")
    s.add_argument("--menu-pubkey", action="append", default=[], help="pinned menu key given at enrolment")
    s.set_defaults(func=cmd_seed_dev)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "menu" and args.action == "pubkeys" and len(args.values) > 2:
        print("central: at most two menu public keys (current and next)", file=sys.stderr)
        return 2
    if args.command == "openapi":  # needs no database
        return cmd_openapi(args, None)
    try:
        store = Store(args.db, args.pepper_file, key_path=args.key_file)
    except Exception as exc:  # noqa: BLE001 - one line for the operator, not a traceback
        where = dialect_for(args.db).describe()  # a URL without its password
        print(f"central: cannot open database {where}: {str(exc).strip()}", file=sys.stderr)
        return 2
    try:
        return args.func(args, store)
    except UsageError as exc:
        print(f"central: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
