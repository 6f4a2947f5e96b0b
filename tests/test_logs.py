import json
import logging

from kiosk import logs
from kiosk.session import Session


class Card:
    name = "欧阳䶮"
    english_name = None
    address = "广东省深圳市福田区华富街道莲花一村12栋"


def test_redaction_of_id_numbers_phones_tokens_and_session_name(tmp_path):
    path = logs.setup(tmp_path, console=False)
    log = logging.getLogger("test.redaction")
    session = Session(temp_root=tmp_path / "sessions")
    session.set_card(Card())
    log.info("card read for %s id %s phone %s", Card.name, "11010519491231002X", "13812345678")
    log.info("address %s", Card.address, extra={"ctx_detail": "owner 欧阳䶮 +86 138-1234-5678"})
    log.warning("Authorization: Bearer abcdefghijklmnop123")
    try:
        raise ValueError("bad id 440524188001010014")
    except ValueError:
        log.exception("failure")
    session.wipe()
    log.info("after wipe the name is no longer special: 欧阳")
    for h in logging.getLogger().handlers:
        h.flush()
    text = path.read_text(encoding="utf-8")
    for raw in ("11010519491231002X", "440524188001010014", "13812345678", "138-1234-5678",
                "欧阳䶮", "莲花一村", "abcdefghijklmnop123"):
        assert raw not in text, raw
    records = [json.loads(line) for line in text.splitlines()]
    assert records[0]["msg"].startswith("card read for ***")
    assert records[1]["detail"] == "owner *** ***"
    assert "exc" in records[3] and "***" in records[3]["exc"]


def test_redactor_keeps_ordinary_numbers():
    r = logs.Redactor()
    assert r("queue depth 12, took 1234 ms, port 8765") == "queue depth 12, took 1234 ms, port 8765"
