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
