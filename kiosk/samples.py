"""The sample resident of ``kiosk --tour`` and the tests: the card in
``assets/cards/resident_elderly.json`` (a made-up person)."""
from __future__ import annotations

import json
from pathlib import Path

from devices.idcard.card import IdCard, card_from_dict

SAMPLE_CARD = Path(__file__).resolve().parent.parent / "assets" / "cards" / "resident_elderly.json"


def sample_card() -> IdCard:
    return card_from_dict(json.loads(SAMPLE_CARD.read_text(encoding="utf-8")))
