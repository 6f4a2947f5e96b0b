"""``kioskctl menu lint|keygen|sign|verify``: how central admins prepare a menu and technicians check one.

``lint`` prints one ``path: message`` line per finding (exit 0 clean, 1 with
findings); ``sign`` refuses a menu that does not lint clean; ``verify`` exits 0
only for a bundle this kiosk would install (same checks as the kiosk itself).
"""
from __future__ import annotations

import json
from pathlib import Path

from devices.commands import CommandError
from kiosk import config as cfg
from kiosk.menu_bundle import (BundleError, canonical_payload, generate_keypair, key_id, load_private_key,
                               parse_public_key, pinned_keys, public_raw, sign_payload, verify_bundle)
from kiosk.menu_lint import lint_file


def register(sub) -> None:
    p = sub.add_parser("menu", help="lint, sign and verify service menus")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    lint = actions.add_parser("lint", help="check a menu JSON file (exit 1 with findings, one per line)")
    lint.add_argument("file")
    lint.set_defaults(func=_lint)

    keygen = actions.add_parser("keygen", help="create an Ed25519 signing key: PREFIX.key (0600) and PREFIX.pub")
    keygen.add_argument("-o", "--output", required=True, metavar="PREFIX")
    keygen.set_defaults(func=_keygen)

    sign = actions.add_parser("sign", help="sign a lint-clean menu into a bundle")
    sign.add_argument("file")
    sign.add_argument("--key", required=True, help="PREFIX.key from keygen")
    sign.add_argument("-o", "--output", required=True, metavar="BUNDLE")
    sign.set_defaults(func=_sign)

    verify = actions.add_parser("verify", help="exit 0 only if this kiosk would install the bundle")
    verify.add_argument("bundle")
    verify.add_argument("--pubkey", action="append", metavar="PUB",
                        help="PREFIX.pub file or base64 key; repeat for two (default: the config's pinned keys)")
    verify.add_argument("--installed-version", type=int, default=0, metavar="N",
                        help="version installed on the kiosk; the bundle must be newer")
    verify.add_argument("--region", help="kiosk region (default: [kiosk] region from the config)")
    verify.set_defaults(func=_verify)


def _lint(args) -> int:
    try:
        findings = lint_file(args.file)
    except OSError as exc:
        raise CommandError(f"{args.file}: cannot read: {exc.strerror or exc}", 2) from None
    for finding in findings:
        print(finding)
    return 1 if findings else 0


def _keygen(args) -> int:
    try:
        key_path, pub_path = generate_keypair(args.output)
    except FileExistsError:
        raise CommandError(f"{args.output}.key already exists; refusing to overwrite a signing key", 2) from None
    except OSError as exc:
        raise CommandError(f"{args.output}: cannot write key: {exc.strerror or exc}", 2) from None
    pub = parse_public_key(pub_path.read_text())
    print(f"private key: {key_path} (mode 0600, keep it offline)")
    print(f"public key:  {pub_path} (key id {key_id(public_raw(pub))}; pin it in [menu] pubkeys)")
    return 0


def _sign(args) -> int:
    try:
        findings = lint_file(args.file)
        private = load_private_key(args.key)
    except OSError as exc:
        raise CommandError(f"cannot read: {exc.filename}: {exc.strerror or exc}", 2) from None
    except (ValueError, TypeError) as exc:
        raise CommandError(f"{args.key}: not a usable private key: {exc}", 2) from None
    if findings:
        for finding in findings:
            print(finding)
        raise CommandError(f"{args.file}: refusing to sign a menu with {len(findings)} lint finding(s)", 1)
    doc = json.loads(Path(args.file).read_bytes())
    bundle = sign_payload(canonical_payload(doc), private)
    Path(args.output).write_bytes(bundle)
    print(f"{args.output}: menu version {doc['version']} for region {doc['region']}, "
          f"signed by key {key_id(public_raw(private.public_key()))}, {len(bundle)} bytes")
    return 0


def _verify(args) -> int:
    config = cfg.load(args.config)
    pubkeys = [_read_pubkey(p) for p in args.pubkey] if args.pubkey else list(config.menu.pubkeys)
    if not pubkeys:
        raise CommandError("no public key: pass --pubkey or pin keys in [menu] pubkeys", 2)
    try:
        keys = pinned_keys(pubkeys)
    except ValueError as exc:
        raise CommandError(f"[menu] pubkeys: {exc}", 2) from None
    try:
        data = Path(args.bundle).read_bytes()
    except OSError as exc:
        raise CommandError(f"{args.bundle}: cannot read: {exc.strerror or exc}", 2) from None
    try:
        verified = verify_bundle(data, keys, region=args.region or config.kiosk.region,
                                 installed_version=args.installed_version,
                                 max_bytes=config.menu.max_bundle_bytes)
    except BundleError as exc:
        raise CommandError(f"{args.bundle}: rejected ({exc.code}): {exc}", 1) from None
    menu = verified.menu
    print(f"{args.bundle}: OK menu version {menu.version}, region {menu.region}, "
          f"{sum(1 for _ in menu.services())} services, key {verified.key_id}, expires {menu.expires.isoformat()}")
    return 0


def _read_pubkey(value: str) -> str:
    """A --pubkey value: a PREFIX.pub path, or the base64 key itself."""
    path = Path(value)
    text = path.read_text() if path.is_file() else value
    try:
        parse_public_key(text)
    except ValueError as exc:
        raise CommandError(f"--pubkey {value}: {exc}", 2) from None
    return text.strip()
