"""``kioskctl config check|show``: validate and print the effective configuration."""
from __future__ import annotations

import json

from kiosk import config as cfg


def register(sub) -> None:
    p = sub.add_parser("config", help="check or show the kiosk configuration")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate the config file (exit 2 with the problem)")
    check.set_defaults(func=_check)
    show = actions.add_parser("show", help="print the effective configuration as JSON")
    show.set_defaults(func=_show)


def _check(args) -> int:
    config = cfg.load(args.config)
    print(f"{config.source}: OK")
    return 0


def _show(args) -> int:
    config = cfg.load(args.config)
    print(json.dumps(config.root.model_dump(), ensure_ascii=False, indent=2))
    return 0
