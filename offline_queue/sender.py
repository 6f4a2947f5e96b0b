"""The sender thread: drains the outbox to the platform, oldest first.

It uses ``PlatformClient.submit(kind, payload, idempotency_key)``, the batch
call ``create_applications`` where the client has it, and the client's typed
errors:

* success → ``done`` (personal data purged, application number kept);
* :class:`FinalError` (validation 4xx, and 422 for a reused key with another
  body) → dead letter with the reason, for ``kioskctl queue``;
* :class:`RetryableError` (5xx, 409 still-processing, 429/503, timeouts,
  connection errors) → retried under full-jitter exponential backoff,
  honouring Retry-After (an item answered 409 ten times in a row over ten
  minutes becomes a dead letter: a wrong print token is a 409 too, and
  never clears); :class:`AuthError` (401/403) is retried too, since
  the items are fine and only the kiosk's token needs re-enrolment.

All kinds go to one platform, so a failure pauses the whole sender (not just
the item) until the backoff expires; a new item from a resident wakes it for
one immediate attempt, which is how the queue notices that the network is back
without a fleet-wide synchronised probe.  Connectivity ("online", "offline",
"degraded") is published on ``queue.connectivity`` and counts on
``queue.stats`` for the UI and the heartbeat.

A backlog of applications (after an outage) leaves in batches: up to
``BATCH_MAX_ITEMS`` consecutive, due applications in one request that the
platform records in one transaction, answering item by item for a prefix of
them.  Each item keeps its own Idempotency-Key and its answer is handled as if
it had been sent alone, so order, exactly-once and dead letters are unchanged;
a single waiting item (a resident at the screen) still goes alone.
"""
from __future__ import annotations

import collections
import logging
import random
import threading
import time

import orjson

from common.worker import Worker
from kiosk.logs import redactor
from kiosk.platform import AuthError, FinalError, RetryableError
from offline_queue.backoff import retry_delay
from offline_queue.crypto import QueueKeyError
from offline_queue.outbox import Item, Outbox, QueueItemError

log = logging.getLogger(__name__)

ONLINE, OFFLINE, DEGRADED = "online", "offline", "degraded"
IDLE_POLL_S = 5.0        # also picks up `kioskctl queue retry` from another process
STATS_INTERVAL_S = 0.5   # counting rows on every item would slow a 10,000-item drain
RECENT_RESULTS = 256     # acknowledgements kept in memory for wait_for()
CONFLICT_LIMIT = 10      # 409s in a row for one item, and ...
CONFLICT_WINDOW_S = 600.0  # ... for this long (well past the platform's 60 s processing lease): dead letter
BATCH_MAX_ITEMS = 50       # a backlog of applications leaves in batches of up to this many ...
BATCH_MAX_BYTES = 4 * 1024 * 1024  # ... and this much JSON (one item may be larger and goes alone)
EXPIRY_INTERVAL_S = 3600.0  # how often dead letters past queue.dead_letter_days are purged
BATCH_OFF_S = 600.0        # after the platform refuses a batch request, one at a time for this long


class Sender:
    def __init__(self, outbox: Outbox, client, bus=None, backoff_base_s: float = 1.0,
                 backoff_cap_s: float = 300.0, rng: random.Random | None = None, clock=time.time,
                 batch_items: int = BATCH_MAX_ITEMS):
        """``batch_items`` 1 sends every item alone (as to a platform without batches)."""
        self.outbox = outbox
        self.client = client
        self.bus = bus
        self.base_s = float(backoff_base_s)
        self.cap_s = float(backoff_cap_s)
        self._rng = rng or random.Random()
        self._clock = clock
        self._wake = threading.Event()
        self._worker = Worker("queue-sender", self._run, wake=self._wake.set)
        self._next_expiry = 0.0            # monotonic time of the next dead-letter retention pass
        self._failures = 0                 # consecutive failed attempts, platform-wide
        self._paused_until = 0.0           # backoff gate for every kind
        self._server_asked_pause = False   # Retry-After: a resident's new item must not cut it short
        self._probe = False                # next step may send a head that is not yet due
        self._conflicts: dict[str, tuple[float, int]] = {}  # item id -> (first 409, 409s in a row)
        self.conflict_window_s = CONFLICT_WINDOW_S
        self._results: collections.OrderedDict[str, dict] = collections.OrderedDict()
        self._results_changed = threading.Condition()
        self._last_stats = 0.0
        self._batching_off_until = 0.0
        self.batch_items = batch_items
        self.connectivity = ONLINE         # optimistic until the first attempt says otherwise

    @classmethod
    def from_config(cls, config, outbox: Outbox, client, bus=None) -> "Sender":
        return cls(outbox, client, bus, config.queue.backoff_base_s, config.queue.backoff_cap_s)

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        if self._worker.running:
            return
        self._worker.start()
        self._publish_stats(force=True)

    def stop(self, timeout: float = 5.0) -> None:
        self._worker.stop(timeout)

    def wake(self) -> None:
        """A new item: try once now, even inside our own backoff pause (a
        server's Retry-After is still honoured)."""
        if not self._server_asked_pause:
            self._paused_until = 0.0
            self._probe = True
        self._wake.set()

    def enqueue(self, kind: str, payload: dict, attachments=(), depends_on: str | None = None,
                item_id: str | None = None) -> str:
        """Store the item durably (see :meth:`Outbox.enqueue`) and wake the sender."""
        item_id = self.outbox.enqueue(kind, payload, attachments, depends_on, item_id)
        self.wake()
        self._publish_stats(force=True)
        return item_id

    def wait_for(self, item_id: str, timeout: float) -> dict | None:
        """Block up to ``timeout`` s for the item's outcome: ``{"state": "done",
        "response": {...}}`` or ``{"state": "dead", "reason": ...}``; None if
        still queued.  Never call this on the UI thread."""
        deadline = time.monotonic() + timeout
        with self._results_changed:
            while item_id not in self._results:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._results_changed.wait(remaining)
            return self._results[item_id]

    # -- the loop ---------------------------------------------------------
    def _run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                self._expire_dead_letters()
                delay = self._step()
            except Exception:  # a bug must not silently stop deliveries; back off and go on
                log.exception("queue sender step failed")
                delay = self._fail_delay(None)
            if delay > 0:
                self._wake.wait(delay)
                self._wake.clear()
        self._publish_stats(force=True)

    def _expire_dead_letters(self) -> None:
        """The dead-letter and tombstone retention, hourly: a kiosk may run for months without a restart."""
        if time.monotonic() >= self._next_expiry:
            self._next_expiry = time.monotonic() + EXPIRY_INTERVAL_S
            self.outbox.expire_dead_letters()
            self.outbox.housekeep()   # old tombstones, and the file vacuumed when it is mostly free

    def _step(self) -> float:
        """Send at most one item; return how long to sleep before the next step."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        probe, self._probe = self._probe, False
        horizon = float("inf") if probe else now
        item, due = self.outbox.next_ready(horizon)
        if item is None:
            self.outbox.empty_wal()  # nothing to send: the last acknowledgements' purge checkpoint
            self._publish_stats(force=due is None)  # drained (or all blocked): say so at once
            return IDLE_POLL_S if due is None else min(max(due - now, 0.0), IDLE_POLL_S)
        run = self._batchable(item, horizon)
        if len(run) > 1:
            self._send_batch(run)
        else:
            self._send(item)
        self._publish_stats()
        return 0.0

    def _batchable(self, head: Item, horizon: float) -> list[Item]:
        if (head.kind != "application" or self.batch_items < 2 or self._clock() < self._batching_off_until
                or not hasattr(self.client, "create_applications")):
            return [head]
        return self.outbox.run_of(head, self.batch_items, horizon)

    def _send(self, item: Item, payload: dict | None = None) -> None:
        """One item; ``payload`` when the caller has already decrypted it."""
        if payload is None:
            try:
                payload = self.outbox.request_payload(item)
            except (QueueKeyError, QueueItemError, OSError, ValueError) as exc:
                self._dead(item, f"cannot read the stored item: {exc}")
                return
        self.outbox.mark_sending(item.id)
        try:
            response = self.client.submit(item.kind, payload, item.id)
        except AuthError as exc:
            self._retry([item], exc, DEGRADED, None)
        except FinalError as exc:
            self._set_connectivity(ONLINE)
            self._dead(item, redactor(str(exc)))
        except RetryableError as exc:
            if exc.status == 409 and self._conflict_persists(item.id):
                self._set_connectivity(ONLINE)
                self._dead(item, f"the platform kept answering 409 Conflict: {redactor(str(exc))}")
                return
            self._retry([item], exc, OFFLINE if exc.status is None else DEGRADED, exc.retry_after)
        else:
            self._delivered(item, response)
            self._set_connectivity(ONLINE)

    def _delivered(self, item: Item, response: dict) -> None:
        self._conflicts.pop(item.id, None)
        self.outbox.mark_done(item.id, response.get("application_no"))
        self._failures = 0
        self._server_asked_pause = False
        self._record(item.id, {"state": "done", "response": response})

    def _send_batch(self, run: list[Item]) -> None:
        """A backlog of applications, oldest first, in one request and one platform commit.

        The platform answers item by item for a prefix of the run; each answer is handled as
        :meth:`_send` would handle it alone.  Items after the prefix go back in line untouched.
        """
        batch, size = [], 0
        for item in run:
            try:
                payload = self.outbox.request_payload(item)
            except (QueueKeyError, QueueItemError, OSError, ValueError):
                break  # sent alone next, where it becomes a dead letter with its reason
            size += len(orjson.dumps(payload))
            if batch and size > BATCH_MAX_BYTES:
                break
            batch.append((item, payload))
        if len(batch) < 2:  # alone after all (too big, or the next one unreadable)
            if batch:
                self._send(*batch[0])
            else:
                self._send(run[0])
            return
        with self.outbox.bookkeeping():
            for item, _ in batch:
                self.outbox.mark_sending(item.id)
        try:
            outcomes = self.client.create_applications([(item.id, payload) for item, payload in batch])
        except AuthError as exc:
            self._retry([item for item, _ in batch], exc, DEGRADED, None)
        except FinalError as exc:
            # The request itself was refused (a platform without the batch endpoint answers
            # 404/405): send one at a time for a while; every item gets its own answer that way.
            self._batching_off_until = self._clock() + BATCH_OFF_S
            log.warning("batch of %d applications refused (%s); sending one at a time for %.0f s",
                        len(batch), redactor(str(exc)), BATCH_OFF_S)
            with self.outbox.bookkeeping():
                for item, _ in batch:
                    self.outbox.mark_unsent(item.id)
        except RetryableError as exc:
            self._retry([item for item, _ in batch], exc,
                        OFFLINE if exc.status is None else DEGRADED, exc.retry_after)
        else:
            self._settle_batch([item for item, _ in batch], outcomes)

    def _settle_batch(self, items: list[Item], outcomes: list) -> None:
        retry = None
        with self.outbox.bookkeeping():
            for item, outcome in zip(items, outcomes):
                if isinstance(outcome, dict):
                    self._delivered(item, outcome)
                elif isinstance(outcome, FinalError):
                    self._dead(item, redactor(str(outcome)))
                elif outcome.status == 409 and self._conflict_persists(item.id):
                    self._dead(item, f"the platform kept answering 409 Conflict: {redactor(str(outcome))}")
                else:
                    retry = (item, outcome)
            for item in items[len(outcomes):]:
                self.outbox.mark_unsent(item.id)
            if retry is not None:
                self._retry([retry[0]], retry[1], DEGRADED, None)
        if retry is None:
            self._set_connectivity(ONLINE)

    def _conflict_persists(self, item_id: str) -> bool:
        """409 means "still processing" (clears within the platform's lease) or,
        for a print report, a wrong print token (never clears): after
        CONFLICT_LIMIT answers in a row spread over the conflict window, the
        item stops blocking its kind's FIFO."""
        now = self._clock()
        first, count = self._conflicts.get(item_id, (now, 0))
        if count + 1 >= CONFLICT_LIMIT and now - first >= self.conflict_window_s:
            self._conflicts.pop(item_id, None)
            return True
        self._conflicts[item_id] = (first, count + 1)
        return False

    def _retry(self, items: list[Item], exc: Exception, connectivity: str, retry_after: float | None) -> None:
        """Not delivered: the items (one, or a whole batch) wait for the same pause."""
        delay = self._fail_delay(retry_after)
        self._server_asked_pause = retry_after is not None
        self._paused_until = self._clock() + delay
        with self.outbox.bookkeeping():
            for item in items:
                self.outbox.mark_retry(item.id, redactor(str(exc)), self._paused_until)
        self._set_connectivity(connectivity)
        what = (f"queue item {items[0].id} ({items[0].kind})" if len(items) == 1
                else f"batch of {len(items)} queued applications")
        log.info("%s not delivered, retry in %.1f s: %s", what, delay, redactor(str(exc)))

    def _fail_delay(self, retry_after: float | None) -> float:
        self._failures += 1
        return retry_delay(self._failures, retry_after, self.base_s, self.cap_s, self._rng)

    def _dead(self, item: Item, reason: str) -> None:
        self.outbox.mark_dead(item.id, reason)
        log.warning("queue item %s (%s) refused, now a dead letter: %s", item.id, item.kind, reason)
        self._record(item.id, {"state": "dead", "reason": reason})
        self._publish_stats(force=True)

    def _record(self, item_id: str, outcome: dict) -> None:
        with self._results_changed:
            self._results[item_id] = outcome
            while len(self._results) > RECENT_RESULTS:
                self._results.popitem(last=False)
            self._results_changed.notify_all()

    # -- events -----------------------------------------------------------
    def _set_connectivity(self, state: str) -> None:
        if state != self.connectivity:
            self.connectivity = state
            if self.bus is not None:
                self.bus.publish("queue.connectivity", "queue", state=state)

    def _publish_stats(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.bus is None or (not force and now - self._last_stats < STATS_INTERVAL_S):
            return
        self._last_stats = now
        stats = self.outbox.stats()
        self.bus.publish("queue.stats", "queue", depth=stats["depth"], dead=stats["dead"],
                         connectivity=self.connectivity)
