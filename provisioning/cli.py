"""``kioskctl enroll | detect | selftest | install | maintenance set-pin``.

The technician's path from a bare machine to a serving kiosk (see
docs/provisioning.md): ``install`` → ``detect --apply`` → ``enroll`` →
``maintenance set-pin`` → ``selftest``.
"""
from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from devices.commands import CommandError
from kiosk import config as kiosk_config

KIOSK_USER = "kiosk"


def register(sub) -> None:
    enroll = sub.add_parser("enroll", help="enrol this kiosk with the platform using a one-time code")
    enroll.add_argument("--platform", required=True, metavar="URL", help="platform base URL (https://...)")
    enroll.add_argument("--code", required=True, help="one-time code from `central enroll-code`")
    enroll.add_argument("--config-out", metavar="FILE",
                        help=f"config file to write (default: --config, else {kiosk_config.PRODUCTION_PATH})")
    enroll.add_argument("--kiosk-id", help="ask for this kiosk id (default: the platform assigns one)")
    enroll.add_argument("--ca-bundle", metavar="FILE", help="CA bundle to trust for the platform's TLS")
    enroll.add_argument("--fingerprint", metavar="HEX", required=True,
                        help="the platform key fingerprint `central enroll-code` printed; the platform must prove it")
    enroll.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    enroll.set_defaults(func=cmd_enroll)

    detect = sub.add_parser("detect", help="find the ID card reader, cameras and printers; propose [devices]")
    detect.add_argument("--port", action="append", dest="ports", metavar="DEV",
                        help="probe this serial port (repeatable; default: every port pyserial lists)")
    detect.add_argument("--out", metavar="FILE", help="write the proposed [devices] section here "
                        "(default: DATA_DIR/detected-devices.toml)")
    detect.add_argument("--apply", action="store_true", help="also merge the proposal into the config file")
    detect.set_defaults(func=cmd_detect)

    selftest = sub.add_parser("selftest", help="check every device and service; exit 1 if anything fails "
                                               "(stop the kiosk service first: devices have one owner)")
    selftest.add_argument("--no-print", action="store_true", help="skip the test receipt and licence test page")
    selftest.add_argument("--wait", type=float, default=8.0, metavar="S",
                          help="seconds to wait for each device to come up (default 8)")
    selftest.set_defaults(func=cmd_selftest)

    install = sub.add_parser("install", help="production install: user, directories, config, "
                                         "systemd unit, udev rules, cage session, logrotate")
    install.add_argument("--dry-run", action="store_true", help="print every change, make none")
    install.set_defaults(func=cmd_install)

    qr = sub.add_parser("enroll-qr", help="make the enrolment QR code a kiosk scans in maintenance mode")
    qr.add_argument("--platform", required=True, metavar="URL", help="platform base URL the kiosk should use")
    qr.add_argument("--code", required=True, help="one-time code from `central enroll-code`")
    qr.add_argument("--fingerprint", required=True, metavar="HEX",
                    help="the platform key fingerprint `central enroll-code` printed")
    qr.add_argument("--out", metavar="FILE.png", help="write the QR code image here (default: print the text only)")
    qr.set_defaults(func=cmd_enroll_qr)

    maintenance = sub.add_parser("maintenance", help="maintenance-mode settings")
    actions = maintenance.add_subparsers(dest="maintenance_command", metavar="ACTION", required=True)
    set_pin = actions.add_parser("set-pin", help="set the technician PIN (stored as an scrypt hash)")
    set_pin.add_argument("--pin-stdin", action="store_true",
                         help="read the PIN from standard input (for scripts) instead of prompting")
    set_pin.set_defaults(func=cmd_set_pin)


def _config_file(args, fallback: Path = kiosk_config.PRODUCTION_PATH) -> Path:
    if args.config:
        return Path(args.config)
    return kiosk_config.locate() or fallback


def _become_kiosk_user(config) -> None:
    """Run device work as the kiosk user on a production kiosk.

    Files the checks create (print journal, queue, logs) must belong to the
    app's user, and the device permissions tested must be the app's (udev
    groups), not root's.
    """
    import pwd
    if os.geteuid() != 0 or not config.is_production:
        return
    try:
        entry = pwd.getpwnam(KIOSK_USER)
    except KeyError:
        return
    os.initgroups(KIOSK_USER, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    print(f"note: running as user {KIOSK_USER}, as the kiosk app does")


def cmd_enroll(args) -> int:
    from urllib.parse import urlsplit

    from provisioning.enroll import EnrollError, enroll
    config_out = Path(args.config_out) if args.config_out else _config_file(args)
    if not args.yes:
        print(f"enrol this kiosk with the platform at {urlsplit(args.platform).netloc or args.platform} "
              f"({args.platform}), key fingerprint {args.fingerprint}?")
        print("type yes to go on: ", end="", flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            raise CommandError("not enrolled; nothing changed")
    try:
        result = enroll(args.platform, args.code, config_out, kiosk_id=args.kiosk_id,
                        ca_bundle=args.ca_bundle, expected_fingerprint=args.fingerprint)
    except EnrollError as exc:
        raise CommandError(f"enrolment failed: {exc}") from None
    print(f"enrolled as {result.kiosk_id} (region {result.region})")
    print(f"  config      {result.config_path}")
    print(f"  token       {result.token_path} (0600)")
    print(f"  queue key   {result.queue_key_path} (0600, {'created' if result.queue_key_created else 'kept'})")
    print(f"  menu keys   {len(result.pubkeys)} pinned")
    return 0


def cmd_detect(args) -> int:
    from common.files import write_atomic
    from provisioning import detect
    from provisioning.configfile import update_file
    config = kiosk_config.load(args.config)
    findings, notes = detect.detect(ports=args.ports)
    proposal = detect.propose(findings)
    print(detect.table(findings, proposal) if findings else "no devices found")
    for note in notes:
        print(f"note: {note}")
    text = detect.proposal_toml(proposal)
    out = Path(args.out) if args.out else config.data_dir / "detected-devices.toml"
    write_atomic(out, text, mode=0o644)
    print(f"proposed [devices] section written to {out}")
    if args.apply:
        path = _config_file(args)
        if not path.exists():
            raise CommandError(f"{path}: no config file to apply the proposal to (run `kioskctl install` first)")
        update_file(path, {f"devices.{role}": settings for role, settings in proposal.items()})
        print(f"applied to {path}: {', '.join(proposal) or 'nothing found to apply'}")
    return 0


def cmd_selftest(args) -> int:
    from devices import registry
    from common.events import EventBus
    from kiosk.platform import PlatformClient
    from offline_queue.outbox import Outbox
    from kiosk.selftest import SelfTest, failed, format_table

    config = kiosk_config.load(args.config)
    _become_kiosk_user(config)
    bus = EventBus()
    sam_direct = config.devices.id_reader.driver == "sam_serial"
    devices = {role: registry.build(role, config, bus) for role in registry.DRIVERS
               if not (role == "id_reader" and sam_direct)}
    for device in devices.values():
        device.open()
    outbox = None
    if (config.data_dir / "queue" / "outbox.sqlite3").exists():
        outbox = Outbox.from_config(config, owner=False)   # counts only: no key, no recovery
    client = PlatformClient.from_config(config)
    try:
        results = SelfTest(config, devices, client, print_tests=not args.no_print, wait_s=args.wait,
                           sam_direct=sam_direct, outbox=outbox).run()
    finally:
        for device in devices.values():
            device.close()
        if outbox is not None:
            outbox.close()
        client.close()
    print(format_table(results))
    return 1 if failed(results) else 0


def cmd_install(args) -> int:
    from provisioning.install import Installer, InstallError
    installer = Installer()
    try:
        steps = installer.plan()
        if args.dry_run:
            for step in steps:
                print(f"would {step.summary}")
            print(f"{len(steps)} change(s) planned; nothing was changed (dry run)"
                  if steps else "nothing to change: this machine is already installed")
            return 0
        if os.geteuid() != 0:
            raise CommandError("install changes system files: run it as root (sudo kioskctl install)")
        installer.apply(steps)
    except InstallError as exc:
        raise CommandError(f"install: {exc}") from None
    print(f"installed ({len(steps)} change(s)). Next: kioskctl detect --apply, kioskctl enroll, "
          "kioskctl maintenance set-pin, kioskctl selftest, then reboot")
    return 0


def cmd_enroll_qr(args) -> int:
    from provisioning.enroll import EnrolQr, EnrollError, parse_enrol_qr
    try:
        payload = EnrolQr(args.platform, args.code.strip(), args.fingerprint.strip().lower()).encode()
        parse_enrol_qr(payload)          # the kiosk must accept what we print
    except EnrollError as exc:
        raise CommandError(str(exc)) from None
    print(payload)
    if args.out:
        import qrcode
        qrcode.make(payload, error_correction=qrcode.constants.ERROR_CORRECT_M).save(args.out)
        print(f"QR code written to {args.out}")
    return 0


def cmd_set_pin(args) -> int:
    from provisioning.configfile import update_file
    from kiosk.pin import PinFormatError, hash_pin
    path = _config_file(args)
    if not path.exists():
        raise CommandError(f"{path}: no config file to store the PIN in (run `kioskctl install` or pass --config)")
    if args.pin_stdin:
        pin = sys.stdin.readline().strip()
    else:
        pin = getpass.getpass("new technician PIN: ")
        if getpass.getpass("repeat it: ") != pin:
            raise CommandError("the two PINs differ; nothing changed")
    try:
        pin_hash = hash_pin(pin)
    except PinFormatError as exc:
        raise CommandError(f"{exc}; nothing changed") from None
    update_file(path, {"maintenance": {"pin_hash": pin_hash}})
    print(f"technician PIN set in {path} (restart the kiosk app to use it)")
    return 0
