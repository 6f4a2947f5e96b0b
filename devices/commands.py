"""What every ``kioskctl`` subcommand shares, in the lowest layer so device commands need not import the kiosk.

``kioskctl`` (kiosk/cli.py) prints a :class:`CommandError` as one line and
exits with its status, and hands each command a :class:`CommandContext` as
``args.context``: how to load the kiosk's config and how the kiosk masks an
ID number, so a device CLI shows what receipts show without importing either.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


class CommandError(Exception):
    """A failure to report as one line (exit status in ``status``)."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CommandContext:
    load_config: Callable[[str | None], Any]          # path or None -> the kiosk's Config
    mask_id_number: Callable[[str, int, int], str]    # (number, head, tail) -> masked
