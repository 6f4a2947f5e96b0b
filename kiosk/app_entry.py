"""``kiosk``: start the resident-facing app.

Configuration is validated *before* Kivy is imported, so a bad config is one
line and exit status 2, never a traceback or a half-opened window.  Kivy's
own command-line parsing is switched off (KIVY_NO_ARGS) so residents' kiosks
cannot be reconfigured through argv.
"""
from __future__ import annotations

import argparse
import os
import sys

from kiosk import __version__
from kiosk import config as cfg


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kiosk", description="Government self-service kiosk (市民之窗).")
    p.add_argument("--version", action="version", version=f"kiosk {__version__}")
    p.add_argument("--config", help="config file (default: $KIOSK_CONFIG, /etc/kiosk/kiosk.toml, embedded defaults)")
    p.add_argument("--tour", metavar="DIR", help="visit every screen in every language and elder mode, write PNGs to DIR, exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = cfg.load(args.config)
    except cfg.ConfigError as exc:
        print(f"kiosk: config error: {exc}", file=sys.stderr)
        return 2
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from screens.bootstrap import run  # imported late: Kivy reads its environment at import
    if config.platform.url:
        return run(config, tour_dir=args.tour)
    # No platform configured: the embedded default is the local reference platform on
    # loopback, started beside the kiosk (in the background: the UI must not wait for it).
    from kiosk import embedded_platform
    embedded_platform.start_in_background(config)
    try:
        return run(config, tour_dir=args.tour)
    finally:
        embedded_platform.stop()


if __name__ == "__main__":
    sys.exit(main())
