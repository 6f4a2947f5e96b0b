"""Help requests on the reference platform (SQLite and PostgreSQL): a kiosk asks, staff acknowledge,
the kiosk learns it; nothing about the resident travels, and only the admin credential answers."""
from __future__ import annotations

import re
import uuid

import pytest
import requests

from central import admin, audit, cli
from central import help as help_requests
from central.testing import run_server
from kiosk.platform import AuthError, FinalError, PlatformClient


@pytest.fixture
def platform(central_db):
    with run_server(central_db.db, pepper_path=central_db.pepper) as running:
        running.cli_args = central_db.cli_args()
        yield running


def ask(platform, request_id=None, screen="form", **extra):
    body = {"request_id": request_id or str(uuid.uuid4()), "screen": screen,
            "requested_at": "2026-12-06T10:00:00+08:00", "centre": "华富街道党群服务中心", **extra}
    return requests.post(platform.base_url + "/v1/help", json=body,
                         headers={"Authorization": f"Bearer {platform.token}"}, timeout=10), body


def fleet_page(platform) -> str:
    page = requests.get(platform.base_url + "/admin/fleet", auth=("admin", platform.admin_token), timeout=10)
    assert page.status_code == 200
    return page.text


def ack_form(page: str, request_id: str) -> dict:
    item = re.search(rf'<li class="help-request" data-request="{request_id}">(.*?)</li>', page, re.S)
    assert item, "the open request is not on the fleet page"
    return {"action": re.search(r'action="([^"]+)"', item.group(1)).group(1),
            "csrf": re.search(r'name="csrf" value="([0-9a-f]+)"', item.group(1)).group(1)}


def test_help_request_is_stored_and_answered_open_until_staff_acknowledge(platform):
    response, body = ask(platform)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "open" and "acknowledged_at" not in response.json()
    stored = help_requests.get(platform.store, body["request_id"])
    assert (stored.kiosk_id, stored.screen, stored.centre) == (platform.kiosk_id, "form", body["centre"])
    # the queue retrying: the same request, once
    again, _ = ask(platform, body["request_id"])
    assert again.status_code == 201 and again.json()["request_id"] == body["request_id"]
    assert platform.count("help_requests") == 1
    client = PlatformClient(platform.base_url, platform.token)
    assert client.help_status(body["request_id"])["status"] == "open"

    help_requests.acknowledge(platform.store, body["request_id"], "李工", via="test")
    answer = client.help_status(body["request_id"])
    assert answer["status"] == "acknowledged" and answer["acknowledged_at"]


def test_help_needs_a_kiosk_token(platform):
    body = {"request_id": str(uuid.uuid4()), "screen": "home"}
    assert requests.post(platform.base_url + "/v1/help", json=body, timeout=10).status_code == 401
    assert requests.post(platform.base_url + "/v1/help", json=body, timeout=10,
                         headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert requests.get(f"{platform.base_url}/v1/help/{body['request_id']}", timeout=10).status_code == 401
    assert platform.count("help_requests") == 0


@pytest.mark.parametrize("extra", [{"name": "张三"}, {"id_number": "11010519491231002X"},
                                   {"phone": "13800138000"}, {"resident": {"name": "张三"}}])
def test_personal_or_unknown_fields_are_refused(platform, extra):
    response, _ = ask(platform, **extra)
    assert response.status_code == 422
    assert platform.count("help_requests") == 0


def test_a_screen_name_is_a_name_not_free_text(platform):
    response, _ = ask(platform, screen="张三 11010519491231002X")
    assert response.status_code == 422


def test_the_same_id_with_another_body_is_refused(platform):
    response, body = ask(platform)
    assert response.status_code == 201
    other, _ = ask(platform, body["request_id"], screen="home")
    assert other.status_code == 409 and other.json()["detail"]["retryable"] is False
    with pytest.raises(FinalError):  # the kiosk's queue makes it a dead letter, not a retry loop
        PlatformClient(platform.base_url, platform.token).ask_for_help({**body, "screen": "home"})


def test_another_kiosk_can_neither_read_nor_take_over_a_request(platform):
    _, body = ask(platform)
    other = PlatformClient(platform.base_url, admin.issue_kiosk_token(platform.store, "other-kiosk"))
    with pytest.raises(FinalError) as refused:
        other.help_status(body["request_id"])
    assert refused.value.status == 404
    with pytest.raises(FinalError) as taken:
        other.ask_for_help(body)
    assert taken.value.status == 409
    assert help_requests.get(platform.store, body["request_id"]).kiosk_id == platform.kiosk_id


def test_only_the_admin_credential_acknowledges(platform):
    _, body = ask(platform)
    form = ack_form(fleet_page(platform), body["request_id"])
    url = platform.base_url + form["action"]
    data = {"csrf": form["csrf"], "by": "李工"}
    # a kiosk token is not an admin credential
    as_kiosk = requests.post(url, data=data, headers={"Authorization": f"Bearer {platform.token}"},
                             timeout=10, allow_redirects=False)
    assert as_kiosk.status_code == 401
    with pytest.raises(AuthError):
        PlatformClient(platform.base_url, platform.token)._request("POST", form["action"], json={})
    assert requests.post(url, data=data, timeout=10, allow_redirects=False).status_code == 401
    assert requests.post(url, data=data, auth=("admin", "wrong"), timeout=10,
                         allow_redirects=False).status_code == 401
    # the admin, without the page's token, or from another site: refused (CSRF)
    auth = ("admin", platform.admin_token)
    assert requests.post(url, data={"by": "x"}, auth=auth, timeout=10, allow_redirects=False).status_code == 403
    assert requests.post(url, data={**data, "csrf": "0" * 64}, auth=auth, timeout=10,
                         allow_redirects=False).status_code == 403
    assert requests.post(url, data=data, auth=auth, timeout=10, allow_redirects=False,
                         headers={"Origin": "http://evil.example"}).status_code == 403
    assert requests.post(url, data=data, auth=auth, timeout=10, allow_redirects=False,
                         headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert help_requests.get(platform.store, body["request_id"]).acknowledged_at is None

    done = requests.post(url, data=data, auth=auth, timeout=10, allow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/admin/fleet")
    stored = help_requests.get(platform.store, body["request_id"])
    assert stored.acknowledged_at is not None and stored.acknowledged_by == "李工 (fleet page)"
    entries = [e for e in audit.entries(platform.store) if e["action"] == "help acknowledged"]
    assert len(entries) == 1 and body["request_id"] in entries[0]["target"] and "李工" in entries[0]["target"]
    assert entries[0]["kiosk_id"] == platform.kiosk_id and entries[0]["resident_key"] is None
    # twice: nothing changes, no second audit entry
    requests.post(url, data=data, auth=auth, timeout=10, allow_redirects=False)
    assert len([e for e in audit.entries(platform.store) if e["action"] == "help acknowledged"]) == 1
    # an unknown request
    unknown = str(uuid.uuid4())
    token = help_requests.csrf_token(platform.store, unknown)
    assert requests.post(f"{platform.base_url}/admin/help/{unknown}/ack", data={"csrf": token}, auth=auth,
                         timeout=10, allow_redirects=False).status_code == 404


def test_fleet_page_shows_the_open_request_with_its_age_then_its_response_time(platform):
    _, body = ask(platform, screen="identify")
    with platform.store.write():  # received four minutes ago
        platform.store.execute("UPDATE help_requests SET received_at = received_at - 240 WHERE request_id = ?",
                               (body["request_id"],))
    page = fleet_page(platform)
    assert 'id="help"' in page and "求助" in page
    item = re.search(rf'data-request="{body["request_id"]}">(.*?)</li>', page, re.S).group(1)
    assert platform.kiosk_id in item and "identify" in item and "4 min" in item
    rows = re.findall(r'<tr class="(\w+)" data-kiosk="([^"]+)"', page)
    assert rows[0] == ("fault", platform.kiosk_id)  # a resident waiting comes first
    form = ack_form(page, body["request_id"])
    requests.post(platform.base_url + form["action"], data={"csrf": form["csrf"], "by": "王"},
                  auth=("admin", platform.admin_token), timeout=10)
    page = fleet_page(platform)
    assert f'data-request="{body["request_id"]}"' not in page and "No open help requests" in page
    assert re.search(r"help \S+ \S+ → answered in 4 min by 王 \(fleet page\)", page), page


def test_cli_lists_acknowledges_and_kiosks_shows_the_alert(platform, capsys):
    _, body = ask(platform, screen="materials")
    assert cli.main([*platform.cli_args, "kiosks"]) == 0
    out = capsys.readouterr().out
    assert f"求助 help requested 0 s ago on screen materials (request {body['request_id'][:8]})" in out \
        or re.search(r"help requested \d+ s ago on screen materials", out), out
    assert cli.main([*platform.cli_args, "help"]) == 0
    assert body["request_id"][:8] in capsys.readouterr().out
    assert cli.main([*platform.cli_args, "help", "ack", "abc"]) == 2
    assert cli.main([*platform.cli_args, "help", "ack", body["request_id"][:8], "--by", "陈"]) == 0
    assert "acknowledged by 陈 (cli)" in capsys.readouterr().out
    assert PlatformClient(platform.base_url, platform.token).help_status(body["request_id"])["status"] == "acknowledged"
    assert cli.main([*platform.cli_args, "kiosks"]) == 0
    out = capsys.readouterr().out
    assert "help requested" not in out and "answered in" in out and "by 陈 (cli)" in out
    assert any(e["action"] == "help acknowledged" for e in audit.entries(platform.store))


def test_maintenance_forgets_help_requests_after_their_retention(platform):
    from central import maintenance
    _, old = ask(platform)
    _, young = ask(platform)
    with platform.store.write():
        platform.store.execute("UPDATE help_requests SET received_at = received_at - ? WHERE request_id = ?",
                               (help_requests.HELP_RETENTION_DAYS * 86400 + 60, old["request_id"]))
    assert maintenance.run(platform.store)["help_requests"] == 1
    assert help_requests.get(platform.store, old["request_id"]) is None
    assert help_requests.get(platform.store, young["request_id"]) is not None
