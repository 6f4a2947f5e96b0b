"""``kioskctl idcard read|simulate``: read one card, or serve a simulated reader.

``read`` talks to the reader directly (no kiosk running): it checks the SAM,
waits up to ``--timeout`` seconds for a card, reads it once and prints one
JSON object (ID number masked unless ``--unmasked``).  ``simulate`` starts the
pty simulator with a sample card and prints the port to pass to ``read`` (or
to ``devices.id_reader.port`` with ``driver = "sam_serial"``).
"""
from __future__ import annotations

import json
import sys
import threading
import time

import serial

from devices.commands import CommandError


def register(sub) -> None:
    idcard = sub.add_parser("idcard", help="ID card reader: read a card, run the simulator")
    actions = idcard.add_subparsers(dest="idcard_command", metavar="ACTION", required=True)

    read = actions.add_parser("read", help="read one card and print it as JSON")
    read.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0 or a simulator pty")
    read.add_argument("--baud", type=int, default=115200)
    read.add_argument("--unmasked", action="store_true", help="print the full ID number (technicians only)")
    read.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a card (default 5)")
    read.set_defaults(func=cmd_read)

    simulate = actions.add_parser("simulate", help="run a simulated SAM reader on a pty until Ctrl-C")
    simulate.add_argument("--card", help="card JSON file (default: the elderly resident sample)")
    simulate.add_argument("--no-card", action="store_true", help="start with the reader empty")
    simulate.add_argument("--baud", type=int, default=115200, help="pace replies at this baud rate")
    simulate.set_defaults(func=cmd_simulate)


def cmd_read(args) -> int:
    from devices.idcard import protocol as p
    from devices.idcard.reader import SamReader

    try:
        reader = SamReader.open(args.port, args.baud)
    except p.IdCardError as exc:
        raise CommandError(str(exc)) from None
    try:
        reader.sam_status()
        deadline = time.monotonic() + args.timeout
        card = reader.read_card()
        while card is None and time.monotonic() < deadline:
            time.sleep(0.2)
            card = reader.read_card()
    except p.IdCardError as exc:
        raise CommandError(f"{exc.code}: {exc}") from None
    except (serial.SerialException, OSError) as exc:
        raise CommandError(f"serial port {args.port} failed: {exc}") from None
    finally:
        reader.close()
    if card is None:
        raise CommandError(f"no card on the reader within {args.timeout:g} s")
    print(json.dumps(card.to_public_dict(None if args.unmasked else _kiosk_masking(args)), ensure_ascii=False))
    return 0


def _kiosk_masking(args):
    """The kiosk's configured masking, so the CLI shows what receipts show."""
    privacy = args.context.load_config(args.config).privacy
    return lambda number: args.context.mask_id_number(number, privacy.id_mask_head, privacy.id_mask_tail)


def cmd_simulate(args) -> int:
    from devices.idcard.adapter import DEFAULT_SAMPLE_CARD
    from devices.idcard.card import CardDataError
    from devices.idcard.simulator import SamSimulator

    try:
        card = None if args.no_card else (args.card or DEFAULT_SAMPLE_CARD)
        simulator = SamSimulator(card, baud=args.baud)
    except CardDataError as exc:
        raise CommandError(str(exc)) from None
    port = simulator.start()
    print(port, flush=True)
    print(f"simulated SAM reader on {port} at {args.baud} baud; Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    finally:
        simulator.stop()
    return 0
