"""Issue 11.5: a stolen kiosk is cut off at once (`central kiosks revoke`); tokens expire and are
rotated through the heartbeat, the old one honoured for a grace period."""
from __future__ import annotations

import os
import stat
import time

from kiosk.platform import PlatformClient
from tests.security.conftest import RESIDENT_A
from tests.test_central_cli import central

BEAT = {"kiosk_id": "kiosk-b", "version": "t", "uptime_s": 1}


def test_revoking_a_stolen_kiosk_cuts_it_off_at_once(platform, central_db, kiosk_a, kiosk_b):
    kiosk_a.apply(RESIDENT_A)
    grant = kiosk_b.present(RESIDENT_A)
    assert kiosk_b.call("POST", "/v1/heartbeat", BEAT).status_code == 200
    result = central(central_db, "kiosks", "revoke", "kiosk-b")
    assert result.returncode == 0 and "revoked" in result.stdout
    assert kiosk_b.call("POST", "/v1/heartbeat", BEAT).status_code == 401
    assert kiosk_b.call("POST", "/v1/documents/query", {}, grant=grant).status_code == 401
    assert kiosk_a.call("POST", "/v1/heartbeat", {**BEAT, "kiosk_id": "kiosk-a"}).status_code == 200  # others go on
    unknown = central(central_db, "kiosks", "revoke", "no-such-kiosk")
    assert unknown.returncode == 2 and "no kiosk" in unknown.stderr


def test_an_expired_token_is_refused(platform, kiosk_b):
    with platform.store.write():
        platform.store.execute("UPDATE kiosk_tokens SET expires_at = ? WHERE kiosk_id = 'kiosk-b'", (time.time() - 1,))
    assert kiosk_b.call("POST", "/v1/heartbeat", BEAT).status_code == 401


def test_the_heartbeat_hands_over_a_new_token_which_the_client_saves(platform, kiosk_b, tmp_path):
    from central import tokens
    token_file = tmp_path / "secrets" / "platform.token"
    token_file.parent.mkdir()
    token_file.write_text(kiosk_b.token)
    client = PlatformClient(platform.base_url, token_file=token_file, timeout=10)
    assert "token" not in client.heartbeat(BEAT)  # far from expiry: nothing handed over
    with platform.store.write():  # six days left: inside the rotation window
        platform.store.execute("UPDATE kiosk_tokens SET expires_at = ? WHERE kiosk_id = 'kiosk-b'",
                               (time.time() + 6 * 86400,))
    reply = client.heartbeat(BEAT)
    new_token = reply["token"]
    assert new_token != kiosk_b.token and token_file.read_text() == new_token
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert client.token == new_token and "token" not in client.heartbeat(BEAT)  # the new one is in use
    old = kiosk_b.call("POST", "/v1/heartbeat", BEAT)                          # the old one: grace period,
    assert old.status_code == 200 and "token" not in old.json()                 # and the new one is in use
    with platform.store.write():
        platform.store.execute("UPDATE kiosk_tokens SET superseded_at = ? WHERE superseded_at IS NOT NULL",
                               (time.time() - tokens.GRACE_S - 1,))
    assert kiosk_b.call("POST", "/v1/heartbeat", BEAT).status_code == 401      # grace over
    assert client.heartbeat(BEAT)["server_time"]


def test_a_lost_hand_over_is_handed_over_again(platform, kiosk_b):
    with platform.store.write():
        platform.store.execute("UPDATE kiosk_tokens SET expires_at = ? WHERE kiosk_id = 'kiosk-b'",
                               (time.time() + 86400,))
    lost = kiosk_b.call("POST", "/v1/heartbeat", BEAT).json()["token"]          # the answer never arrived
    again = kiosk_b.call("POST", "/v1/heartbeat", BEAT).json()["token"]         # so the old token asks again
    assert lost != again
    from tests.security.conftest import Kiosk
    assert Kiosk(platform.base_url, again, "kiosk-b").call("POST", "/v1/heartbeat", BEAT).status_code == 200


def test_enrolling_again_ends_the_earlier_token(platform, kiosk_b):
    from central.admin import issue_kiosk_token
    issue_kiosk_token(platform.store, "kiosk-b")
    assert kiosk_b.call("POST", "/v1/heartbeat", BEAT).status_code == 401
