"""Kiosk configuration: one TOML file, validated against typed tables at start.

Where the file comes from: ``--config PATH``, else ``$KIOSK_CONFIG``, else
``/etc/kiosk/kiosk.toml`` when it exists, else the embedded defaults (a
windowed development kiosk with simulated devices and a local reference
platform).  Every problem -- unreadable file, bad TOML, unknown key, wrong
type, a number outside its range -- raises :class:`ConfigError` whose message
is one line naming the file and the key; the entry points print it and exit
with 2.

Each ``[section]`` is a :class:`Table` model below (pydantic, strict: TOML
``1`` is not ``true``, ``"5"`` is not 5); every number carries the range it
may take, because a negative timeout or ``inf`` would quietly disable a
safeguard (``elder_timeout_factor = inf``: elder sessions that never end).
"""
from __future__ import annotations

import difflib
import os
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from common.paths import PROJECT_ROOT
from kiosk.schema import Ranged, StrictModel

PRODUCTION_PATH = Path("/etc/kiosk/kiosk.toml")
EMBEDDED = "<embedded defaults>"


class ConfigError(Exception):
    """A configuration problem, phrased as one line for a technician."""


BAUD = Ranged(int, 1200, 921600)
# An image dimension a camera can deliver: from QQVGA up to 8K.
CAMERA_WIDTH, CAMERA_HEIGHT = Ranged(int, 160, 7680), Ranged(int, 120, 4320)


def setting(default: Any, help: str = "") -> Any:
    """A key with its default and the help text shown by ``kioskctl config``."""
    return Field(default, description=help or None)


class Table(StrictModel):
    """One ``[section]`` of the file."""


class DeviceTable(Table):
    """Device sections share ``driver`` and ``enabled``; the rest depends on the role."""
    driver: str = setting("simulated", "adapter name, see devices.registry")
    enabled: bool = True


class KioskTable(Table):
    id: str = setting("dev-kiosk-001", "kiosk identity reported to the platform")
    centre_name: str = setting("福田区华富街道党群服务中心", "简体中文 screens and receipts")
    centre_name_zh_tw: str = setting("福田區華富街道黨群服務中心", "繁體中文 screens and receipts (empty: centre_name)")
    centre_name_en: str = setting("Huafu Subdistrict Service Centre, Futian",
                                  "English screens and receipts (empty: centre_name)")
    region: str = setting("440304", "region code; menu bundles must match it")
    data_dir: str = setting("var", "state: logs, queue, journals, menus")
    profile: Literal["dev", "production"] = "dev"


class DisplayTable(Table):
    fullscreen: bool = False
    width: Ranged(int, 200, 8192) = 1920
    height: Ranged(int, 200, 8192) = 1080
    language: Literal["zh_CN", "zh_TW", "en"] = "zh_CN"
    elder_mode_default: bool = False


class SessionTable(Table):
    idle_timeout_s: Ranged(int, 1, 3600) = setting(90, "inactivity before the countdown shows")
    countdown_s: Ranged(int, 1, 600) = setting(60, "visible countdown before the session is wiped")
    elder_timeout_factor: Ranged(float, 1, 5) = setting(2.0, "长辈模式 timeouts are this many times longer")


class LoggingTable(Table):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_bytes: Ranged(int, 10_000, 1_000_000_000) = 5_000_000
    backups: Ranged(int, 0, 100) = 5


class IdReaderTable(DeviceTable):
    port: str = ""
    baud: BAUD = 115200
    card: str = setting("", "simulator: card JSON file (empty: sample resident card)")
    photo_decoder: str = setting("", "optional vendor WLT decoder library (.so)")


class CameraTable(DeviceTable):
    source: str = setting("", "device index, /dev/videoN, or a video/image file")
    width: CAMERA_WIDTH = 1280
    height: CAMERA_HEIGHT = 720


class DocumentCameraTable(DeviceTable):
    source: str = ""
    width: CAMERA_WIDTH = 1920
    height: CAMERA_HEIGHT = 1080


class QrScannerTable(DeviceTable):
    port: str = setting("", "serial: port; hid: /dev/input/by-id/...-event-kbd")
    baud: BAUD = setting(9600, "serial scanners (most ship at 9600)")
    source: str = setting("", "camera driver: index, /dev/videoN or file")
    backend: Literal["zxing", "pyzbar"] = "zxing"


class ReceiptPrinterTable(DeviceTable):
    connection: str = setting("", "usb VID:PID | serial port | host:port | file path")
    paper_width_mm: Literal[58, 80] = 80
    encoding: Literal["gb18030", "gbk", "utf-8"] = "gb18030"
    baud: BAUD = setting(9600, "serial connection speed")
    profile: str = setting("default", "python-escpos capability profile, e.g. TM-T88V, POS-5890")


class LicencePrinterTable(DeviceTable):
    driver: str = setting("file", "cups | file (PDFs into data_dir/prints)")
    queue: str = setting("", "CUPS queue name (driver = cups)")
    offset_x_mm: Ranged(float, -20, 20) = setting(0.0, "calibration for pre-printed stock")
    offset_y_mm: Ranged(float, -20, 20) = 0.0
    cups_server: str = setting("", "host:port of cupsd (empty: the local default)")
    preprinted_stock: bool = setting(True, "stock has the form printed: print field values only")
    retention_min: Ranged(float, 0, 1440) = setting(10.0, "file driver: minutes a licence PDF is kept, then deleted")


class AudioTable(DeviceTable):
    """The loudspeaker for voice guidance (devices/audio.py)."""
    device: str = setting("", "alsa: ALSA device, e.g. plughw:1,0 (empty: ALSA's default)")
    command: str = setting("", "pipe: a player reading S16LE mono PCM on stdin; {rate} is the sample rate")


class DevicesTable(Table):
    id_reader: IdReaderTable = IdReaderTable()
    camera: CameraTable = CameraTable()
    document_camera: DocumentCameraTable = DocumentCameraTable()
    qr_scanner: QrScannerTable = QrScannerTable()
    receipt_printer: ReceiptPrinterTable = ReceiptPrinterTable()
    licence_printer: LicencePrinterTable = LicencePrinterTable()
    audio: AudioTable = AudioTable()


class PlatformTable(Table):
    url: str = setting("", "empty: start the local reference platform on loopback")
    token_file: str = setting("", "per-kiosk bearer token, written at enrolment")
    ca_bundle: str = setting("", "CA bundle for TLS verification (empty: system CAs)")
    timeout_s: Ranged(float, 0.5, 120) = 10.0
    local_port: Ranged(int, 1, 65535) = setting(8765, "port of the embedded reference platform")


class QueueTable(Table):
    backoff_base_s: Ranged(float, 0.01, 3600) = 1.0
    backoff_cap_s: Ranged(float, 0.1, 86400) = 300.0
    min_free_mb: Ranged(int, 0, 1_000_000) = 200
    key_file: str = setting("", "AES key for data at rest (empty: data_dir/secrets/queue.key)")
    dead_letter_days: Ranged(int, 1, 3650) = setting(30, "a refused item keeps its personal data this long for a retry")

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> "QueueTable":
        if self.backoff_cap_s < self.backoff_base_s:
            raise PydanticCustomError(
                "cross_key", "queue.backoff_cap_s = {cap} is below queue.backoff_base_s = {base}",
                {"cap": self.backoff_cap_s, "base": self.backoff_base_s})
        return self


class MenuTable(Table):
    path: str = "assets/menus/sample.json"
    pubkeys: list[str] = setting(["KGnqQOzr78x4nYbs/Bjno27dF9QcFLcMsAyOkKw6XQg="],
                                 "pinned Ed25519 public keys (base64), at most two; default: the DEV ONLY key")
    poll_interval_s: Ranged(int, 10, 86400) = 300
    bundle: str = setting("assets/menus/sample.bundle",
                          "signed menu shipped with the software, used until one is installed")
    max_bundle_bytes: Ranged(int, 1024, 64 * 1024 * 1024) = setting(4_194_304, "larger bundles are rejected unread")


class PrivacyTable(Table):
    """Never more of an ID number on a screen or receipt than the defaults show (PIPL)."""
    id_mask_head: Ranged(int, 0, 6) = setting(6, "ID number digits shown at the start")
    id_mask_tail: Ranged(int, 0, 4) = setting(4, "ID number digits shown at the end")


class MaintenanceTable(Table):
    pin_hash: str = setting("", "scrypt hash of the technician PIN")


class HeartbeatTable(Table):
    enabled: bool = True
    interval_s: Ranged(int, 1, 3600) = setting(60, "seconds between health reports to the platform")
    jitter: Ranged(float, 0, 0.5) = setting(0.2, "each interval varies by this fraction, so a fleet does not beat in step")


class HelpTable(Table):
    """帮助: the request to the platform (kiosk.help) and the kiosk's own bell or light."""
    local_alert_command: list[str] = setting([], "argv run without a shell when a resident presses 帮助 (a bell, a "
                                                 "light, a USB relay); gets KIOSK_HELP_SCREEN, KIOSK_HELP_REQUEST_ID")
    local_alert_timeout_s: Ranged(float, 0.1, 60) = setting(5.0, "the command is killed after this long")
    delivery_wait_s: Ranged(float, 0.5, 30) = setting(3.0, "how long the resident waits before being told the "
                                                           "request has not reached staff yet (hotline, desk)")
    poll_interval_s: Ranged(float, 0.5, 60) = setting(3.0, "how often the open help panel asks the platform "
                                                           "whether staff acknowledged")
    watch_max_s: Ranged(int, 60, 7200) = setting(1800, "the panel stops asking after this long")


class VoiceTable(Table):
    """Spoken prompts (kiosk/voice, docs/ui.md "Voice")."""
    enabled: bool = setting(True, "automatic prompts for every resident (长辈模式 turns them on anyway)")
    cantonese: bool = setting(False, "粤语 voice on 简体/繁體 screens instead of 普通话 (Guangdong, Hong Kong)")
    volume: Ranged(int, 0, 3) = setting(2, "default volume step 0-3 (-18, -12, -6, 0 dB); back to it after each session")
    engine: Literal["espeak-ng", "none"] = setting("espeak-ng", "none: recorded prompts (assets/voice) only")
    words_per_minute: Ranged(int, 80, 400) = setting(150, "speaking rate of the synthesised voice")
    cache_dir: str = setting("", "WAV cache of the fixed prompts (empty: data_dir/voice)")


class Settings(Table):
    """The whole file; owners of a section add keys to its table (and to ``kiosk.example.toml``)."""
    kiosk: KioskTable = KioskTable()
    display: DisplayTable = DisplayTable()
    session: SessionTable = SessionTable()
    logging: LoggingTable = LoggingTable()
    devices: DevicesTable = DevicesTable()
    platform: PlatformTable = PlatformTable()
    queue: QueueTable = QueueTable()
    menu: MenuTable = MenuTable()
    privacy: PrivacyTable = PrivacyTable()
    maintenance: MaintenanceTable = MaintenanceTable()
    heartbeat: HeartbeatTable = HeartbeatTable()
    help: HelpTable = HelpTable()
    voice: VoiceTable = VoiceTable()


# The centre's name in each UI language (kiosk.i18n.LANGUAGES) -> its [kiosk] key.
CENTRE_NAME_KEYS = {"zh_CN": "centre_name", "zh_TW": "centre_name_zh_tw", "en": "centre_name_en"}


@dataclass(frozen=True)
class Config:
    source: str          # file path, or EMBEDDED
    base_dir: Path       # relative paths resolve against this
    root: Settings

    def __getattr__(self, key: str) -> Any:
        return getattr(self.root, key)

    def path(self, value: str) -> Path:
        """Resolve a path setting relative to the config file's directory."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def data_dir(self) -> Path:
        return self.path(self.root.kiosk.data_dir)

    @property
    def is_production(self) -> bool:
        return self.root.kiosk.profile == "production"

    def centre_name_for(self, language: str) -> str:
        """The centre's name on a screen or receipt in ``language`` (zh_CN, zh_TW, en).

        An empty per-language name falls back to ``centre_name``.  A file that names its
        own centre (``centre_name``) but not ``centre_name_zh_tw`` / ``centre_name_en``
        gets that fallback too, rather than the embedded sample centre's translations:
        the right centre in Simplified characters beats the wrong centre in Traditional.
        """
        kiosk = self.root.kiosk
        return getattr(kiosk, CENTRE_NAME_KEYS.get(language, "centre_name")) or kiosk.centre_name

    def untranslated_centre_names(self) -> list[str]:
        """The per-language centre-name keys left empty (their screens show ``centre_name``)."""
        kiosk = self.root.kiosk
        return [key for key in CENTRE_NAME_KEYS.values() if key != "centre_name" and not getattr(kiosk, key)]


_TYPE_WORDS = {"int_type": "integer", "float_type": "number", "string_type": "string", "bool_type": "true/false",
               "list_type": "list"}


def _problem(source: str, error: dict) -> str:
    """One pydantic error as the line a technician reads: the file, the dotted key, what is wrong."""
    loc, value, kind = error["loc"], error.get("input"), error["type"]
    dotted = ".".join(f"{part}" if isinstance(part, str) else f"[{part}]" for part in loc).replace(".[", "[")
    if kind == "extra_forbidden":
        table = _table_at(loc[:-1])
        where = f"[{'.'.join(loc[:-1])}] " if len(loc) > 1 else ""
        known = ", ".join(sorted(table.model_fields))
        close = difflib.get_close_matches(str(loc[-1]).lower(), list(table.model_fields), n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{source}: {where}unknown key {loc[-1]!r} (known: {known}){hint}"
    if kind == "model_type":
        return f"{source}: [{dotted}] must be a table"
    if kind in _TYPE_WORDS:
        return f"{source}: {dotted} must be {_TYPE_WORDS[kind]}, got {type(value).__name__} {value!r}"
    if kind == "literal_error":
        choices = ", ".join(map(str, typing.get_args(_table_at(loc[:-1]).model_fields[loc[-1]].annotation)))
        return f"{source}: {dotted} = {value!r} is not one of: {choices}"
    if kind == "out_of_range":
        return f"{source}: {dotted} = {value!r} {error['msg']}"
    if kind == "cross_key":  # a table's own check between its keys: the message names them
        return f"{source}: {error['msg']}"
    return f"{source}: {dotted + ': ' if dotted else ''}{error['msg']}"


def _table_at(loc: tuple) -> type[Table]:
    """The model class of the table at ``loc`` (a tuple of section names)."""
    table: type[Table] = Settings
    for name in loc:
        table = table.model_fields[name].annotation
    return table


def _own_centre_names(data: dict) -> None:
    """A file that names its own centre falls back to that name in the languages it
    does not translate it into, not to the embedded sample centre (Config.centre_name_for)."""
    kiosk = data.get("kiosk")
    if not isinstance(kiosk, dict):
        return
    name = kiosk.get("centre_name")
    if isinstance(name, str) and name != KioskTable.model_fields["centre_name"].default:
        for key in CENTRE_NAME_KEYS.values():
            kiosk.setdefault(key, "")


def parse(text: str, source: str = EMBEDDED, base_dir: Path | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ConfigError(f"{source}: not valid TOML: nested too deeply") from None
    _own_centre_names(data)
    try:
        root = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problem(source, exc.errors(include_url=False)[0])) from None
    return Config(source=source, base_dir=base_dir or PROJECT_ROOT, root=root)


def locate(explicit: str | os.PathLike | None = None) -> Path | None:
    """The config file to use, or None for the embedded defaults."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("KIOSK_CONFIG")
    if env:
        return Path(env)
    return PRODUCTION_PATH if PRODUCTION_PATH.exists() else None


def load(explicit: str | os.PathLike | None = None) -> Config:
    path = locate(explicit)
    if path is None:
        return defaults()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except PermissionError:
        raise ConfigError(f"{path}: config file is not readable (permission denied)") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    return parse(text, str(path), path.resolve().parent)


def defaults() -> Config:
    return parse("", EMBEDDED, PROJECT_ROOT)
