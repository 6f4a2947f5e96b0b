"""`kioskctl idcard read|simulate` end to end, as separate processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from common.paths import PROJECT_ROOT

CARD_DIR = PROJECT_ROOT / "assets" / "cards"
# The installed entry point, as technicians run it (``python -m kiosk.cli`` would
# load kiosk.cli twice and CommandError would not be caught).
KIOSKCTL = str(Path(sys.executable).parent / "kioskctl")
KEYS = ["card_type", "name", "english_name", "gender", "ethnicity", "birth_date", "address", "id_number",
        "issuer", "valid_from", "valid_to", "nationality"]


def _env():
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CONFIG"}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return env


def kioskctl(*args, timeout=20):
    return subprocess.run([KIOSKCTL, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT_ROOT, env=_env())


@pytest.fixture
def simulate():
    procs = []

    def start(*args):
        # Ctrl-C in a terminal reaches a process whose SIGINT is at its default; a test run started
        # as a background job (no job control) would otherwise hand the simulator SIGINT ignored.
        proc = subprocess.Popen([KIOSKCTL, "idcard", "simulate", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT, env=_env(),
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        procs.append(proc)
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/"), proc.stderr.read() if proc.poll() is not None else port
        return proc, port
    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_read_prints_one_masked_json_object(simulate):
    _, port = simulate()
    result = kioskctl("idcard", "read", "--port", port)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    card = json.loads(lines[0])
    assert list(card) == KEYS
    assert card["name"] == "王秀英" and card["birth_date"] == "1949-05-12" and card["valid_to"] == "长期"
    assert card["id_number"] == "440304********0026"
    assert card["english_name"] is None and card["nationality"] is None


def test_unmasked_and_foreign_card(simulate):
    _, port = simulate("--card", str(CARD_DIR / "foreign_2023.json"))
    card = json.loads(kioskctl("idcard", "read", "--port", port, "--unmasked", "--baud", "115200").stdout)
    assert card["card_type"] == "foreign_2023" and card["id_number"] == "91156019870304003X"
    assert card["english_name"] == "GARCIA LOPEZ, MARIA DE LOS ANGELES ISABEL" and card["ethnicity"] is None


def test_no_card_is_one_line_and_exit_1(simulate):
    _, port = simulate("--no-card")
    result = kioskctl("idcard", "read", "--port", port, "--timeout", "0.5")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "no card" in result.stderr


def test_missing_port_is_one_line_and_exit_1(tmp_path):
    result = kioskctl("idcard", "read", "--port", str(tmp_path / "ttyUSB7"))
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "ttyUSB7" in result.stderr


def test_a_port_where_nothing_answers_times_out_with_exit_1():
    master, slave = os.openpty()
    try:
        result = kioskctl("idcard", "read", "--port", os.ttyname(slave), "--timeout", "0.5")
    finally:
        os.close(master)
        os.close(slave)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "no reply" in result.stderr


def test_bad_sample_card_file_is_one_line(tmp_path):
    bad = tmp_path / "card.json"
    bad.write_text("{not json", encoding="utf-8")
    result = kioskctl("idcard", "simulate", "--card", str(bad))
    assert result.returncode == 1 and "card.json" in result.stderr and result.stderr.count("\n") == 1


def test_simulator_stops_on_ctrl_c(simulate):
    proc, _ = simulate()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=5) == 130
