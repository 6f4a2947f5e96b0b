"""``kioskctl``: the technician and admin command line.

Subcommands live next to the code they drive; each module listed in
``COMMANDS`` exposes ``register(subparsers)`` which adds its parser(s) and
sets ``func(args) -> int`` on them.  Errors that a technician can act on are
raised as :class:`~devices.commands.CommandError` (or ConfigError) and printed
as one line on stderr; the exit status is the command's return value.  Each
command gets ``args.context`` (config loader, ID masking rule) so device
commands need not import the kiosk.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from devices.commands import CommandContext, CommandError
from kiosk import __version__
from kiosk import config as cfg
from kiosk.config import ConfigError
from kiosk.privacy import mask_id_number

COMMANDS = [
    "kiosk.cli_config",           # config check|show
    "devices.idcard.cli",         # idcard read|simulate
    "devices.vision_cli",         # doc scan, scan decode
    "devices.printers.cli",       # printer status, print test-receipt|license
    "offline_queue.cli",          # queue list|retry|purge
    "kiosk.menu_cli",             # menu lint|keygen|sign|verify
    "provisioning.cli",           # enroll, detect, selftest, install
    "kiosk.voice.cli",            # voice build|list|say
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kioskctl", description="Technician and admin tools for the kiosk.")
    parser.add_argument("--version", action="version", version=f"kioskctl {__version__}")
    parser.add_argument("--config", help="kiosk config file (default: $KIOSK_CONFIG, /etc/kiosk/kiosk.toml, embedded)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    args.context = CommandContext(cfg.load, mask_id_number)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"kioskctl: config error: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"kioskctl: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
