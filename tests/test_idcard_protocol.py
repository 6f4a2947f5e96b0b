"""Frames, the frame reader and its fuzzing (hypothesis, a few thousand examples)."""
from __future__ import annotations

import glob

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.idcard import fuzzing
from devices.idcard import protocol as p
from devices.idcard.card import load_card_file
from common.paths import PROJECT_ROOT

SAMPLES = [load_card_file(f) for f in sorted(glob.glob(str(PROJECT_ROOT / "assets/cards/*.json")))]
FUZZ = settings(max_examples=600, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def test_find_card_command_matches_the_field_notes():
    assert p.encode_command(p.FIND_CARD) == bytes.fromhex("AAAAAA9669 0003 2001 22")


@pytest.mark.parametrize("wire, sw3, data_len", [
    ("AAAAAA9669 0008 00009F 00000000 97", 0x9F, 4),     # find OK, as seen in the wild
    ("AAAAAA9669 0004 000080 84", 0x80, 0),              # no card
])
def test_replies_seen_in_the_wild_parse(wire, sw3, data_len):
    reader = p.FrameReader()
    reader.feed(bytes.fromhex(wire))
    response = p.Response.from_body(reader.next_body())
    assert (response.sw3, len(response.data)) == (sw3, data_len)


def test_base_info_frame_is_1295_bytes_with_text_at_14_and_photo_at_270():
    card = SAMPLES[0]
    body = bytes((0, 0, 0x90)) + (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + bytes(256) + card.photo_wlt
    frame = p.build_frame(body)
    assert len(frame) == 1295 and frame[5:7] == b"\x05\x08"
    assert frame[270:270 + 1024] == card.photo_wlt


def test_reassembles_byte_by_byte_and_skips_garbage_before_the_preamble():
    frame = p.encode_response(0x90, b"\x01\x02\x03")
    reader = p.FrameReader()
    out = []
    for byte in b"\x00\xAA\x13\xAA\xAA" + frame + frame:
        reader.feed(bytes([byte]))
        body = reader.next_body()
        if body is not None:
            out.append(body)
    assert out == [b"\x00\x00\x90\x01\x02\x03"] * 2
    assert reader.discarded == 5


def test_bad_checksum_is_an_error_and_the_next_frame_still_comes_through():
    good = p.encode_response(0x9F, bytes(4))
    bad = good[:-1] + bytes([good[-1] ^ 1])
    reader = p.FrameReader()
    reader.feed(bad + good)
    with pytest.raises(p.ProtocolError, match="checksum"):
        reader.next_body()
    assert p.Response.from_body(reader.next_body()).sw3 == 0x9F


def test_impossible_length_is_rejected_before_waiting_for_bytes():
    reader = p.FrameReader()
    reader.feed(p.PREAMBLE + b"\xFF\xFF\x00")
    with pytest.raises(p.ProtocolError, match="length"):
        reader.next_body()


def test_length_lie_does_not_hide_the_frame_behind_it():
    good = p.encode_response(0x90)
    lying = p.PREAMBLE + b"\x00\x10" + b"\x00\x00\x90"      # claims 16 bytes, has 3
    reader = p.FrameReader()
    reader.feed(lying + good + bytes(16))
    bodies = []
    for _ in range(5):
        try:
            body = reader.next_body()
        except p.ProtocolError:
            continue
        if body is not None:
            bodies.append(body)
    assert b"\x00\x00\x90" in bodies


def test_bytes_needed_asks_for_exactly_the_rest_of_the_frame():
    frame = p.encode_response(0x90, bytes(100))
    reader = p.FrameReader()
    reader.feed(frame[:3])
    assert reader.bytes_needed() == 4
    reader.feed(frame[3:10])
    assert reader.bytes_needed() == len(frame) - 10


def test_short_response_body_is_a_protocol_error():
    with pytest.raises(p.ProtocolError):
        p.Response.from_body(b"\x00\x00")


@FUZZ
@given(fuzzing.streams(SAMPLES, max_frames=8))
def test_fuzz_nothing_but_idcard_errors_escape_the_frame_reader(stream):
    fuzzing.drain(*stream)   # raises anything that is not an IdCardError


@FUZZ
@given(st.lists(st.tuples(fuzzing.valid_bodies(SAMPLES), st.binary(max_size=40)), min_size=1, max_size=6),
       st.lists(st.integers(1, 700), min_size=1, max_size=10))
def test_fuzz_every_valid_frame_survives_preamble_free_noise(items, chunks):
    """Valid frames separated by noise without 0xAA come out whole and in order."""
    pieces = []
    for body, noise in items:
        pieces += [noise.replace(b"\xAA", b"\x55"), p.build_frame(body)]
    assert fuzzing.drain(pieces, chunks) == [body for body, _ in items]
