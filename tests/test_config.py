import subprocess
import sys

import pytest

from kiosk import config as cfg


def test_embedded_defaults_are_a_dev_kiosk_with_simulated_devices():
    c = cfg.defaults()
    assert c.source == cfg.EMBEDDED
    assert c.kiosk.profile == "dev" and not c.is_production
    assert c.devices.id_reader.driver == "simulated"
    assert c.data_dir == cfg.PROJECT_ROOT / "var"


def test_example_file_is_valid_and_matches_defaults():
    example = cfg.load(cfg.PROJECT_ROOT / "kiosk.example.toml")
    assert example.root == cfg.defaults().root


@pytest.mark.parametrize("text, expected", [
    ("[kiosk]\nidd = 'x'\n", "unknown key 'idd'"),
    ("[devices.id_reader]\nbaudrate = 9600\n", "[devices.id_reader] unknown key 'baudrate'"),
    ("[display]\nwidth = '1920'\n", "display.width must be integer"),
    ("[display]\nfullscreen = 1\n", "display.fullscreen must be true/false"),
    ("[session]\nidle_timeout_s = true\n", "session.idle_timeout_s must be integer"),
    ("[display]\nlanguage = 'fr'\n", "display.language = 'fr' is not one of"),
    ("[kiosk\n", "not valid TOML"),
    ("unknown_section = 1\n", "unknown key 'unknown_section'"),
])
def test_bad_config_names_file_and_key(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path)
    message = str(err.value)
    assert str(path) in message and expected in message
    assert "\n" not in message


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(cfg.ConfigError, match="config file not found"):
        cfg.load(tmp_path / "nope.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(cfg.ConfigError, match="not UTF-8"):
        cfg.load(tmp_path / "bin.toml")


def test_config_is_read_only():
    c = cfg.defaults()
    with pytest.raises(AttributeError):
        c.kiosk.id = "x"


@pytest.mark.parametrize("entry", [["-m", "kiosk.app_entry"], ["-m", "kiosk.cli"]])
def test_entry_points_exit_2_with_one_line(tmp_path, entry):
    bad = tmp_path / "bad.toml"
    bad.write_text("[display]\nwidth = 'wide'\n")
    args = [sys.executable, *entry, "--config", str(bad)]
    if entry[-1] == "kiosk.cli":
        args += ["config", "check"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "display.width" in lines[0] and str(bad) in lines[0]
    assert "Traceback" not in proc.stderr


# -- the centre's name in each language -----------------------------------------------------------

def test_centre_name_in_every_ui_language():
    from kiosk import i18n
    c = cfg.defaults()
    assert set(cfg.CENTRE_NAME_KEYS) == set(i18n.LANGUAGES)
    assert c.centre_name_for("zh_CN") == "福田区华富街道党群服务中心"
    assert c.centre_name_for("zh_TW") == "福田區華富街道黨群服務中心"   # 繁體 screens: Traditional
    assert c.centre_name_for("en") == "Huafu Subdistrict Service Centre, Futian"
    assert c.untranslated_centre_names() == []


def test_own_centre_without_translations_falls_back_to_its_own_name(tmp_path):
    """A kiosk that names its own centre never shows the sample centre's translations."""
    path = tmp_path / "kiosk.toml"
    path.write_text('[kiosk]\ncentre_name = "南山区粤海街道党群服务中心"\n', encoding="utf-8")
    c = cfg.load(path)
    assert c.centre_name_for("zh_TW") == c.centre_name_for("en") == "南山区粤海街道党群服务中心"
    assert c.untranslated_centre_names() == ["centre_name_zh_tw", "centre_name_en"]
    path.write_text('[kiosk]\ncentre_name = "南山区粤海街道党群服务中心"\n'
                    'centre_name_zh_tw = "南山區粵海街道黨群服務中心"\n', encoding="utf-8")
    c = cfg.load(path)
    assert c.centre_name_for("zh_TW") == "南山區粵海街道黨群服務中心"
    assert c.centre_name_for("en") == "南山区粤海街道党群服务中心"
    assert c.untranslated_centre_names() == ["centre_name_en"]


def test_empty_translation_means_the_centre_name():
    c = cfg.parse('[kiosk]\ncentre_name_zh_tw = ""\n')
    assert c.centre_name_for("zh_TW") == "福田区华富街道党群服务中心"
    assert c.centre_name_for("en") == "Huafu Subdistrict Service Centre, Futian"


@pytest.mark.parametrize("key", ["centre_name_tw", "centre_name_zh_TW", "centre_name_zhtw"])
def test_misspelt_centre_name_key_says_which_key_was_meant(tmp_path, key):
    path = tmp_path / "bad.toml"
    path.write_text(f'[kiosk]\n{key} = "福田區華富街道黨群服務中心"\n', encoding="utf-8")
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path)
    message = str(err.value)
    assert str(path) in message and f"[kiosk] unknown key {key!r}" in message
    assert "did you mean 'centre_name_zh_tw'?" in message and "\n" not in message


def test_traditional_centre_name_has_the_right_type(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[kiosk]\ncentre_name_zh_tw = 1\n", encoding="utf-8")
    with pytest.raises(cfg.ConfigError, match=r"kiosk.centre_name_zh_tw must be string, got int 1"):
        cfg.load(path)


# -- hostile and out-of-range files (issue 12.8) ---------------------------------------------------

@pytest.mark.parametrize("nesting", ["x = " + "[" * 5000 + "]" * 5000, "x = " + "{a = " * 3000 + "1" + "}" * 3000])
def test_deeply_nested_toml_is_a_one_line_config_error_exit_2(tmp_path, nesting):
    path = tmp_path / "deep.toml"
    path.write_text(nesting + "\n")
    with pytest.raises(cfg.ConfigError, match="nested too deeply") as err:
        cfg.load(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(path), "config", "check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("text, key, allowed", [
    ("[session]\nelder_timeout_factor = inf\n", "session.elder_timeout_factor = inf", "1.0 to 5.0"),
    ("[session]\nelder_timeout_factor = nan\n", "session.elder_timeout_factor = nan", "1.0 to 5.0"),
    ("[session]\nidle_timeout_s = -1\n", "session.idle_timeout_s = -1", "1 to 3600"),
    ("[session]\ncountdown_s = 0\n", "session.countdown_s = 0", "1 to 600"),
    ("[display]\nwidth = -1920\n", "display.width = -1920", "200 to 8192"),
    ("[devices.camera]\nheight = 0\n", "devices.camera.height = 0", "120 to 4320"),
    ("[platform]\ntimeout_s = -inf\n", "platform.timeout_s = -inf", "0.5 to 120.0"),
    ("[platform]\nlocal_port = 70000\n", "platform.local_port = 70000", "1 to 65535"),
    ("[queue]\nbackoff_cap_s = 0.0\n", "queue.backoff_cap_s = 0.0", "0.1 to 86400.0"),
    ("[devices.id_reader]\nbaud = 0\n", "devices.id_reader.baud = 0", "1200 to 921600"),
    ("[devices.licence_printer]\noffset_x_mm = 1e9\n", "devices.licence_printer.offset_x_mm = 1000000000.0",
     "-20.0 to 20.0"),
    ("[privacy]\nid_mask_head = 18\n", "privacy.id_mask_head = 18", "0 to 6"),
    ("[heartbeat]\njitter = 2.0\n", "heartbeat.jitter = 2.0", "0.0 to 0.5"),
    ("[logging]\nbackups = -3\n", "logging.backups = -3", "0 to 100"),
    ("[help]\ndelivery_wait_s = 0.0\n", "help.delivery_wait_s = 0.0", "0.5 to 30.0"),
    ("[help]\nlocal_alert_timeout_s = inf\n", "help.local_alert_timeout_s = inf", "0.1 to 60.0"),
    ("[help]\nwatch_max_s = 0\n", "help.watch_max_s = 0", "60 to 7200"),
])
def test_every_number_is_range_checked(tmp_path, text, key, allowed):
    path = tmp_path / "range.toml"
    path.write_text(text)
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {key} is out of range"), message
    assert f"allowed: {allowed}" in message and "\n" not in message


def test_help_alert_command_must_be_a_list_of_words(tmp_path):
    path = tmp_path / "help.toml"
    path.write_text('[help]\nlocal_alert_command = "ring --loud"\n')  # a shell line is not an argv
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(path)
    assert "help.local_alert_command must be list" in str(err.value), str(err.value)


def test_backoff_cap_below_base_is_refused(tmp_path):
    path = tmp_path / "backoff.toml"
    path.write_text("[queue]\nbackoff_base_s = 30.0\nbackoff_cap_s = 10.0\n")
    with pytest.raises(cfg.ConfigError, match=r"queue.backoff_cap_s = 10.0 is below queue.backoff_base_s = 30.0"):
        cfg.load(path)


def test_every_default_is_inside_its_range():
    """The shipped defaults and the example file pass the range checks they are held to."""
    assert cfg.load(cfg.PROJECT_ROOT / "kiosk.example.toml").session.elder_timeout_factor == 2.0
