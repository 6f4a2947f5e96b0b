"""common.worker: the one start/stop shape of every service thread."""
from __future__ import annotations

import threading

from common.worker import Worker


def test_stop_ends_the_loop_at_once_and_start_runs_it_again():
    rounds, entered = [], threading.Event()

    def loop(stopping):
        entered.set()
        while not stopping.wait(60):   # a long sleep that stop() must cut short
            rounds.append(1)
    worker = Worker("test-worker", loop)
    worker.start()
    worker.start()                     # a second start while running is a no-op
    assert entered.wait(5) and worker.running
    assert [t.name for t in threading.enumerate()].count("test-worker") == 1
    worker.stop(timeout=5)
    assert not worker.running and rounds == []
    entered.clear()
    worker.start()
    assert entered.wait(5) and worker.running
    worker.stop(timeout=5)
    assert not worker.running


def test_stop_wakes_a_loop_waiting_on_its_own_event_and_may_be_called_from_the_loop():
    wake, done = threading.Event(), threading.Event()
    worker: Worker

    def loop(stopping):
        wake.wait(60)
        worker.stop()                  # a loop may stop its own worker without joining itself
        done.set()
    worker = Worker("self-stopping", loop, wake=wake.set)
    worker.start()
    worker.stop(timeout=5)
    assert done.wait(5) and not worker.running
