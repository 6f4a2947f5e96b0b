"""``kioskctl queue list | retry ID | purge ID``: the outbox for technicians.

``list`` shows ids, kinds, states, attempts, next attempt and the last error
-- never a payload (those are residents' data, and encrypted anyway).  IDs
may be abbreviated to any unambiguous prefix.  A running kiosk picks up a
``retry`` within a few seconds.
"""
from __future__ import annotations

import json
import time

from devices.commands import CommandError
from kiosk import config as kiosk_config
from offline_queue.outbox import Outbox, QueueItemError


def register(sub) -> None:
    queue = sub.add_parser("queue", help="offline queue: list, retry or purge items")
    actions = queue.add_subparsers(dest="queue_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="items waiting, sending and dead letters (no personal data)")
    listing.add_argument("--all", action="store_true", help="include delivered items (tombstones)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=cmd_list)
    retry = actions.add_parser("retry", help="send a dead letter (or a waiting item) again now")
    retry.add_argument("id", help="item id or an unambiguous prefix")
    retry.set_defaults(func=cmd_retry)
    purge = actions.add_parser("purge", help="delete a dead letter and its personal data")
    purge.add_argument("id", help="item id or an unambiguous prefix")
    purge.set_defaults(func=cmd_purge)


def _open(args) -> Outbox:
    config = kiosk_config.load(args.config)
    if not (config.data_dir / "queue" / "outbox.sqlite3").exists():
        raise CommandError(f"no offline queue at {config.data_dir / 'queue'} (has the kiosk run yet?)")
    return Outbox.from_config(config, owner=False)


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def cmd_list(args) -> int:
    outbox = _open(args)
    try:
        states = ("pending", "sending", "dead", "done") if args.all else ("pending", "sending", "dead")
        items = outbox.items(states, limit=1000)
        stats = outbox.stats(include_done=True)
    finally:
        outbox.close()
    if args.json:
        print(json.dumps({"stats": stats, "items": [i.as_dict() for i in items]}, ensure_ascii=False, indent=2))
        return 0
    print(f"waiting {stats['depth']}, dead letters {stats['dead']}, delivered {stats['done']}")
    if not items:
        return 0
    rows = [("ID", "KIND", "STATE", "TRIES", "NEXT ATTEMPT", "AFTER", "APPLICATION", "LAST ERROR")]
    for i in items:
        rows.append((i.id, i.kind, i.state, str(i.attempts),
                     _when(i.next_attempt_at) if i.state == "pending" else "-",
                     i.depends_on[:8] if i.depends_on else "-",  # a rating waits for this item
                     i.application_no or "-", (i.last_error or "-")[:80]))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)) + "  " + r[-1])
    return 0


def _act(args, action, outcome: str) -> int:
    outbox = _open(args)
    try:
        item = action(outbox, args.id)
    except QueueItemError as exc:
        raise CommandError(str(exc)) from None
    finally:
        outbox.close()
    print(f"{item.id} ({item.kind}) {outcome}")
    return 0


def cmd_retry(args) -> int:
    return _act(args, Outbox.retry, "will be sent again now")


def cmd_purge(args) -> int:
    return _act(args, Outbox.purge, "deleted with its personal data; it will not be sent")
