"""Hypothesis strategies and properties for the frame reader and card parser.

Shared by the test suite (a few thousand examples) and ``bench/bench_idcard.py``
(at least 100,000 frames).  Imports hypothesis, so only tests and benchmarks
import this module.
"""
from __future__ import annotations

from hypothesis import strategies as st

from devices.idcard import protocol as p
from devices.idcard.card import PHOTO_LEN, TEXT_LEN, CardDataError, IdCard, encode_card, parse_card, synthetic_photo

MUTATIONS = ("flip", "truncate", "length_lie", "checksum", "insert", "delete", "none")


def _base_info_body(card: IdCard) -> bytes:
    return (bytes((0, 0, p.SW3_OK)) + TEXT_LEN.to_bytes(2, "big") + PHOTO_LEN.to_bytes(2, "big")
            + encode_card(card) + synthetic_photo(card.id_number))


def valid_bodies(sample_cards: list[IdCard]) -> st.SearchStrategy[bytes]:
    """Bodies a SAM really sends: status replies, select replies, card replies, commands."""
    status = st.builds(lambda sw3, data: bytes((0, 0, sw3)) + data,
                       st.sampled_from(sorted(p.SW3_TEXT)), st.binary(max_size=16))
    cards = st.sampled_from(sample_cards).map(_base_info_body)
    commands = st.tuples(st.integers(0, 255), st.integers(0, 255)).map(bytes)
    return st.one_of(status, cards, commands)


@st.composite
def mutated_frame(draw, bodies: st.SearchStrategy[bytes]) -> bytes:
    frame = bytearray(p.build_frame(draw(bodies)))
    kind = draw(st.sampled_from(MUTATIONS))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(frame) - 1))
            frame[i] ^= draw(st.integers(1, 255))
    elif kind == "truncate":
        del frame[draw(st.integers(0, len(frame) - 1)):]
    elif kind == "length_lie":
        frame[5:7] = draw(st.integers(0, 0xFFFF)).to_bytes(2, "big")
    elif kind == "checksum":
        frame[-1] ^= draw(st.integers(1, 255))
    elif kind == "insert":
        i = draw(st.integers(0, len(frame)))
        frame[i:i] = draw(st.binary(min_size=1, max_size=8))
    elif kind == "delete" and len(frame) > 1:
        i = draw(st.integers(0, len(frame) - 1))
        del frame[i:i + draw(st.integers(1, 8))]
    return bytes(frame)


def streams(sample_cards: list[IdCard], max_frames: int = 40) -> st.SearchStrategy[tuple[list[bytes], list[int]]]:
    """(pieces, chunk sizes): valid, mutated and random frames plus garbage, cut anywhere."""
    bodies = valid_bodies(sample_cards)
    piece = st.one_of(
        bodies.map(p.build_frame),
        mutated_frame(bodies),
        st.binary(max_size=64),                                   # line noise
        st.binary(max_size=64).map(lambda b: p.PREAMBLE + b),     # noise that looks like a frame start
    )
    return st.tuples(st.lists(piece, min_size=1, max_size=max_frames),
                     st.lists(st.integers(1, 1400), min_size=1, max_size=30))


def drain(pieces: list[bytes], chunks: list[int]) -> list[bytes]:
    """Feed the stream in the given chunk sizes; parse every frame that comes out.

    Only the module's own errors may be raised inside; they are counted as
    rejections.  Anything else propagates and fails the property."""
    data = b"".join(pieces)
    reader = p.FrameReader()
    bodies: list[bytes] = []
    pos = i = 0
    while pos < len(data):
        size = chunks[i % len(chunks)]
        reader.feed(data[pos:pos + size])
        pos += size
        i += 1
        while True:
            try:
                body = reader.next_body()
            except p.IdCardError:
                continue
            if body is None:
                break
            bodies.append(body)
            _parse_reply(body)
    return bodies


def _parse_reply(body: bytes) -> None:
    try:
        response = p.Response.from_body(body)
        if len(response.data) == 4 + TEXT_LEN + PHOTO_LEN:
            parse_card(response.data[4:4 + TEXT_LEN], response.data[4 + TEXT_LEN:])
    except p.IdCardError:
        pass


@st.composite
def card_texts(draw, sample_cards: list[IdCard]) -> bytes:
    """Random 256-byte blocks and valid card texts with a few code units changed."""
    if draw(st.booleans()):
        return draw(st.binary(min_size=TEXT_LEN, max_size=TEXT_LEN))
    text = bytearray(encode_card(draw(st.sampled_from(sample_cards))))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, TEXT_LEN // 2 - 1)) * 2
        text[i:i + 2] = draw(st.sampled_from([
            b"\x00\xd8", b"\x00\xdc", b"\x00\x00", b" \x00", b"J\x00", b"I\x00", b"Y\x00", b"9\x00", b"X\x00",
            draw(st.binary(min_size=2, max_size=2)),
        ]))
    return bytes(text)


def parse_or_reject(text: bytes) -> IdCard | None:
    try:
        return parse_card(text)
    except CardDataError:
        return None
