"""The fleet page: admin-only, what needs attention first, rendered by a real browser."""
from __future__ import annotations

import re
import shutil
import subprocess
import uuid

import pytest
import requests

from central import admin
from central.testing import run_server
from kiosk.platform import PlatformClient

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def fleet(central_db):
    with run_server(central_db.db, pepper_path=central_db.pepper) as platform:
        beats = {
            "k-ok": {},
            "k-paper": {"receipt_printer": {"state": "WARNING", "reason": "paper near end", "code": "paper_near_end"}},
            "k-fault": {"licence_printer": {"state": "FAULT", "reason": "<cover> open", "code": "cover"}},
        }
        for kiosk_id, devices in beats.items():
            token = admin.issue_kiosk_token(platform.store, kiosk_id)
            PlatformClient(platform.base_url, token).heartbeat(
                {"kiosk_id": kiosk_id, "version": "0.1", "uptime_s": 1, "devices": devices})
        client = PlatformClient(platform.base_url, platform.token)
        client.create_application({"service_id": "family-planning-certificate",
                                   "applicant": {"name": "赵六", "id_number": "11010519491231002X"},
                                   "form": {}, "materials": [], "delivery": {}, "submitted_at": None,
                                   "offline": False}, str(uuid.uuid4()))
        client.rate({"level": 1, "comment": "太慢"}, str(uuid.uuid4()))
        yield platform


def test_fleet_page_needs_the_admin_token(fleet):
    url = fleet.base_url + "/admin/fleet"
    anonymous = requests.get(url, timeout=10)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(url, auth=("admin", "wrong"), timeout=10).status_code == 401
    page = requests.get(url, auth=("admin", fleet.admin_token), timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    order = re.findall(r'data-kiosk="([^"]+)"', page.text)
    assert order[:2] == ["k-fault", "k-paper"]
    assert "&lt;cover&gt; open" in page.text and "<cover>" not in page.text  # escaped
    assert "赵六" not in page.text and "11010519491231002X" not in page.text


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/bootstrap.sh installs it)")
def test_fleet_page_renders_in_headless_chromium(fleet, tmp_path):
    host = fleet.base_url.removeprefix("http://")
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", f"http://admin:{fleet.admin_token}@{host}/admin/fleet"],
        capture_output=True, text=True, timeout=90)
    dom = result.stdout
    assert "自助机运行状态" in dom, result.stderr[-2000:]
    rows = re.findall(r'<tr class="(\w+)" data-kiosk="([^"]+)"', dom)
    assert rows[0] == ("fault", "k-fault") and rows[1] == ("paper", "k-paper")
    assert re.search(r'id="waiting"><b>1</b>', dom) and re.search(r'id="follow-up"><b>1</b>', dom)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/bootstrap.sh installs it)")
def test_open_help_request_is_acknowledged_in_headless_chromium(fleet, tmp_path):
    """A resident pressed 帮助 at k-ok: the page shows the open request first; a member of staff
    types their name and presses 确认前往 in the browser; the page shows it answered, and the
    kiosk's next poll says so."""
    from central import help as help_requests
    from tests.cdp import Browser
    kiosk = PlatformClient(fleet.base_url, admin.issue_kiosk_token(fleet.store, "k-help"))
    request_id = str(uuid.uuid4())
    assert kiosk.ask_for_help({"request_id": request_id, "screen": "materials", "centre": "华富街道"})["status"] == "open"
    host = fleet.base_url.removeprefix("http://")
    browser = Browser(f"http://admin:{fleet.admin_token}@{host}/admin/fleet", tmp_path / "profile")
    try:
        dom = browser.wait_for(lambda d: "自助机运行状态" in d)
        browser.screenshot(tmp_path / "fleet-help-open.png")
        item = re.search(rf'<li class="help-request" data-request="{request_id}">(.*?)</li>', dom, re.S)
        assert item and "k-help" in item.group(1) and "materials" in item.group(1) \
            and re.search(r"waiting <b>\d+ s</b>", item.group(1))
        rows = re.findall(r'<tr class="(\w+)" data-kiosk="([^"]+)"', dom)
        assert rows[0] == ("fault", "k-help")  # a resident waiting: first of all
        assert kiosk.help_status(request_id)["status"] == "open"

        browser.evaluate("document.querySelector('li.help-request input[name=by]').value = '李工';"
                         "document.querySelector('li.help-request button').click()")
        dom = browser.wait_for(lambda d: "No open help requests" in d)
        browser.screenshot(tmp_path / "fleet-help-answered.png")
    finally:
        browser.close()
    assert f'data-request="{request_id}"' not in dom
    assert re.search(r"help \S+ \S+ → answered in \d+ s by 李工 \(fleet page\)", dom), dom
    assert kiosk.help_status(request_id)["status"] == "acknowledged"
    assert help_requests.get(fleet.store, request_id).acknowledged_by == "李工 (fleet page)"
    assert (tmp_path / "fleet-help-open.png").stat().st_size > 10_000
