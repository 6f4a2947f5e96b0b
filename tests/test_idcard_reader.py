"""The real SamReader against the pty simulator: every reply path."""
from __future__ import annotations

import glob
import time

import pytest

from devices.idcard import protocol as p
from devices.idcard.card import CardDataError, load_card_file
from devices.idcard.reader import SamReader
from devices.idcard.simulator import SamSimulator
from common.paths import PROJECT_ROOT

CARD_DIR = PROJECT_ROOT / "assets" / "cards"
ELDERLY = CARD_DIR / "resident_elderly.json"


@pytest.fixture
def sim():
    simulator = SamSimulator(ELDERLY, paced=False)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def reader(sim):
    r = SamReader.open(sim.port, timeout=0.5)
    yield r
    r.close()


@pytest.mark.parametrize("path", sorted(glob.glob(str(CARD_DIR / "*.json"))), ids=lambda f: f.rsplit("/", 1)[-1])
def test_reads_every_sample_card_through_the_real_bytes(sim, reader, path):
    sim.place_card(path)
    card = reader.read_card()
    assert card == load_card_file(path)
    assert len(card.photo_wlt) == 1024
    assert sim.commands[-3:] == ["find", "select", "read"]


def test_no_card_gives_none(sim, reader):
    sim.remove_card()
    assert reader.read_card() is None
    assert sim.commands == ["find"]


def test_sam_status_and_id(sim, reader):
    reader.sam_status()
    assert reader.sam_id() == "05.01-03943194-0000001234-0000005678"
    sim.sam_fault = True
    with pytest.raises(p.SamStatusError) as info:
        reader.sam_status()
    assert (info.value.sw3, info.value.code) == (0x60, "sam_self_test")


@pytest.mark.parametrize("command, sw3", [("select", 0x80), ("select", 0x81), ("read", 0x41)])
def test_restarts_from_find_after_80_81_41(sim, reader, command, sw3):
    sim.inject_status(command, sw3, times=2)
    assert reader.read_card() == load_card_file(ELDERLY)
    assert sim.commands.count("find") == 3


def test_gives_up_after_three_attempts(sim, reader):
    sim.inject_status("read", 0x41, times=3)
    with pytest.raises(p.SamStatusError) as info:
        reader.read_card()
    assert info.value.code == "read_failed"
    assert sim.commands.count("read") == 3


@pytest.mark.parametrize("sw3, code", [(0x40, "unsupported_card"), (0x33, "card_auth_failed")])
def test_other_sam_errors_are_not_retried(sim, reader, sw3, code):
    sim.inject_status("read", sw3)
    with pytest.raises(p.SamStatusError) as info:
        reader.read_card()
    assert info.value.code == code and sim.commands.count("find") == 1


def test_fragmented_and_garbage_prefixed_replies_are_reassembled(sim, reader):
    sim.fragment = True
    sim.corrupt_next("garbage")
    assert reader.read_card() == load_card_file(ELDERLY)


@pytest.mark.parametrize("kind", ["checksum", "truncate", "length_lie"])
def test_damaged_reply_is_a_protocol_error_never_parsed(sim, reader, kind):
    sim.corrupt_next(kind)
    with pytest.raises(p.ProtocolError):
        reader.find_card()
    assert reader.find_card() is True       # the next transaction starts clean


def test_slow_reply_within_the_timeout_is_waited_for(sim, reader):
    sim.reply_delay = 0.3
    assert reader.find_card() is True


def test_reply_slower_than_the_timeout_is_a_protocol_error(sim, reader):
    sim.reply_delay = 0.8
    with pytest.raises(p.ProtocolError):
        reader.find_card()


def test_silent_sam_times_out_with_no_reply_code(sim, reader):
    sim.silent = True
    started = time.monotonic()
    with pytest.raises(p.ProtocolError) as info:
        reader.find_card()
    assert info.value.code == "no_reply" and 0.45 < time.monotonic() - started < 1.5


def test_bad_check_digit_card_is_rejected(sim, reader):
    data = {**load_card_file(ELDERLY).to_public_dict(), "id_number": "440304194905120027"}
    sim.place_card(data)
    with pytest.raises(CardDataError) as info:
        reader.read_card()
    assert info.value.code == "bad_check_digit"


def test_paced_read_is_never_faster_than_the_wire():
    simulator = SamSimulator(ELDERLY, paced=True)
    simulator.start()
    try:
        r = SamReader.open(simulator.port)
        r.find_card()
        r.select_card()
        started = time.perf_counter()
        r.read_blocks()
        elapsed = time.perf_counter() - started
        r.close()
    finally:
        simulator.stop()
    assert elapsed >= (1295 + 10) * 10 / 115200
