"""填写表单: the service's fields, prefilled from the ID card, with kiosk input.

No hardware keyboard and no system IME, so each field type gets the input a
resident can use with one finger:

* ``phone`` / ``id-number``: a large digit pad (with X for ID numbers);
* ``select``: the options as big chips -- nothing to type;
* ``date``: year / month / day steppers, never a free-text date;
* ``address``: one tap copies the address printed on the ID card, or the one the
  resident gave before (edit after), otherwise the pinyin pad below;
* 材料复用 of contact details: a phone number or address the platform holds for a
  returning resident (``KioskCore.contact_on_record``, under the presence grant) is
  offered masked -- "使用此号码 138****5678" / "换一个号码" -- one tap instead of 11 digits,
  and is never shown whole, not even while its field is selected;
* ``text``: a pinyin pad -- type the pinyin (no tones), tap the character.
  Candidates are the 3,755 GB 2312 level-1 characters (pypinyin reading),
  which covers common names, companies and addresses; a rarer character
  (e.g. a name's 堃) has to be completed at a counter, and the card's own
  name is prefilled so it never needs typing.

Fields whose value comes from the card (name, ID number) are filled in and can
still be corrected.  Other people stand behind the resident in a hall: ID numbers
are shown masked (as on the confirm screen and the receipt), phone numbers and
addresses whole only while their field is being edited
(:meth:`FormScreen.shown_value`).  Problems are shown under each field in the
resident's language (``kiosk.transaction.problem_text``), all at once when 下一步 is
pressed.
"""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import (BooleanProperty, DictProperty, ListProperty, NumericProperty,
                             ObjectProperty, StringProperty)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from kiosk import transaction as tx
from kiosk.i18n import N_
from kiosk.privacy import clean_text, mask_address, mask_phone
from screens.flow_screen import FlowScreen, mask_id, next_step
from screens.worker import when_done
from screens.flow_widgets import Choice, DigitPad
from screens.base import blank
from screens.widgets import local, tr

CANDIDATES_SHOWN = 8
_pinyin_table: dict[str, list[str]] | None = None
_pinyin_lock = threading.Lock()


def pinyin_table() -> dict[str, list[str]]:
    """pinyin (no tone) -> GB 2312 level-1 characters; built once (~0.7 s), in a worker."""
    global _pinyin_table
    with _pinyin_lock:
        if _pinyin_table is None:
            from pypinyin import Style, lazy_pinyin
            table: dict[str, list[str]] = {}
            for high in range(0xB0, 0xD8):
                for low in range(0xA1, 0xFF):
                    try:
                        char = bytes((high, low)).decode("gb2312")
                    except UnicodeDecodeError:
                        continue
                    table.setdefault(lazy_pinyin(char, style=Style.NORMAL)[0], []).append(char)
            _pinyin_table = table
        return _pinyin_table


def candidates(letters: str) -> list[str]:
    """Characters whose reading is ``letters``, then those whose reading starts with it."""
    if not letters:
        return []
    table = pinyin_table()
    exact = list(table.get(letters, []))
    longer = [c for reading in sorted(table) if reading != letters and reading.startswith(letters)
              for c in table[reading]]
    return exact + longer


class ValueBox(ButtonBehavior, Label):
    """The field's value as a large box; tapping it puts the field's input below."""
    active = BooleanProperty(False)
    invalid = BooleanProperty(False)


class FieldRow(BoxLayout):
    field_id = StringProperty("")
    label = StringProperty("")
    required = BooleanProperty(False)
    error = StringProperty("")
    screen = ObjectProperty(None)


class PinyinPad(BoxLayout):
    """Letters build a pinyin syllable; tapping a candidate appends the character."""
    target = ObjectProperty(None, allownone=True)
    letters = StringProperty("")
    shown = ListProperty([])
    page = NumericProperty(0)
    max_length = NumericProperty(200)

    def press(self, key: str) -> None:
        if key == "⌫":
            if self.letters:
                self.letters = self.letters[:-1]
            elif self.target is not None:
                self.target.text = self.target.text[:-1]
        elif key.isdigit() or key in "-#":
            self._append(key)
        else:
            self.letters = (self.letters + key.lower())[:6]
        self.page = 0
        self._refresh()

    def choose(self, char: str) -> None:
        self._append(char)
        self.letters, self.page = "", 0
        self._refresh()

    def more(self) -> None:
        self.page += 1
        self._refresh()

    def _append(self, text: str) -> None:
        if self.target is not None and len(self.target.text) < self.max_length:
            self.target.text += text

    def _refresh(self) -> None:
        found = candidates(self.letters)
        start = self.page * CANDIDATES_SHOWN
        if start >= len(found):
            self.page, start = 0, 0
        self.shown = found[start:start + CANDIDATES_SHOWN]
        box = self.ids.candidates
        box.clear_widgets()
        for char in self.shown:
            box.add_widget(Choice(text=char, value=char, on_release=lambda w: self.choose(w.value)))


class DatePicker(BoxLayout):
    """年 / 月 / 日 with − and +; the value is always a valid ISO date."""
    target = ObjectProperty(None, allownone=True)
    year = NumericProperty(2000)
    month = NumericProperty(1)
    day = NumericProperty(1)

    def load(self, text: str) -> None:
        try:
            date = dt.date.fromisoformat(text)
        except ValueError:
            date = dt.date.today()
        self.year, self.month, self.day = date.year, date.month, date.day
        self._write()

    def step(self, part: str, delta: int) -> None:
        year, month, day = self.year, self.month, self.day
        if part == "year":
            year = max(1900, min(2100, year + delta))
        elif part == "month":
            month = (month - 1 + delta) % 12 + 1
        else:
            day += delta
        last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
        day = last if day < 1 else (1 if day > last else day)
        self.year, self.month, self.day = year, month, day
        self._write()

    def _write(self) -> None:
        if self.target is not None:
            self.target.text = f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


class FormScreen(FlowScreen):
    help_text = N_("请核对已从身份证读取的信息，再点选每一项填写。电话号码用数字键盘输入；选择题直接点选。填完请按“下一步”。")
    active_field = StringProperty("")
    values = DictProperty({})
    specs: list = []
    rows: dict = {}
    on_record: dict = {}      # 材料复用: {"phone", "address"} the platform holds (session only)
    typing_new: bool = False  # 换一个号码: the digit pad instead of the offer

    def prepare(self, **_params) -> None:
        threading.Thread(target=pinyin_table, name="pinyin-table", daemon=True).start()
        session, service = self.session, self.service
        if session is None or service is None:
            return
        self.specs = list(service.form)
        self.values = {**tx.prefill(self.specs, session.card), **session.form}
        self.rows = {}
        body = self.ids.fields
        body.clear_widgets()
        lang = self.app.language
        for spec in self.specs:
            row = FieldRow(field_id=spec["id"], label=local(spec.get("label"), lang),
                           required=bool(spec.get("required")), screen=self)
            self.rows[spec["id"]] = row
            body.add_widget(row)
            self._show_value(spec)
        self.ids.scroll.scroll_y = 1
        self.on_record, self.typing_new = {}, False
        if any(s.get("type") in ("phone", "address") for s in self.specs):
            when_done(self.app.core.contact_on_record(), self._contact_known, name="contact-on-record")
        first_empty = next((s["id"] for s in self.specs if not self.values.get(s["id"])), None)
        self.select_field(first_empty or (self.specs[0]["id"] if self.specs else ""))

    def _contact_known(self, found: dict) -> None:
        """The platform's answer: offer it on the field being edited (and the others when opened)."""
        if not self.is_current() or not found:
            return
        self.on_record = dict(found)
        self.select_field(self.active_field)

    def use_on_record(self, field_id: str, kind: str) -> None:
        """使用此号码 / 使用上次填写的地址: one tap, then on to the next empty field."""
        value = self.on_record.get(kind)
        if not value:
            return
        self.set_value(field_id, value)
        following = [s["id"] for s in self.specs[[s["id"] for s in self.specs].index(field_id) + 1:]]
        self.select_field(next((f for f in following if not self.values.get(f)), field_id))

    def type_new(self, field_id: str) -> None:
        """换一个号码: an empty field and the digit pad."""
        self.typing_new = True
        self.set_value(field_id, "")
        self.select_field(field_id)

    def forget(self) -> None:
        for row in self.rows.values():   # kv bindings to the theme keep removed rows alive a while
            blank(row.ids.value)
        self.values, self.specs, self.rows, self.active_field = {}, [], {}, ""
        self.on_record, self.typing_new = {}, False
        self.ids.fields.clear_widgets()
        self._clear_editor()
        self.ids.editor_title.text = ""

    def relabel(self) -> None:
        lang = self.app.language
        for spec in self.specs:
            self.rows[spec["id"]].label = local(spec.get("label"), lang)
            self._show_value(spec)
        self.select_field(self.active_field)
        self.reword_errors()

    def spec(self, field_id: str) -> dict:
        return next(s for s in self.specs if s["id"] == field_id)

    def _show_value(self, spec: dict) -> None:
        self.rows[spec["id"]].ids.value.text = self.shown_value(spec)

    def shown_value(self, spec: dict) -> str:
        """The field's value as the hall may see it (people stand behind the resident).

        ID numbers are always masked like on the confirm screen and the receipt, also
        while typed (``flow_screen.mask_id``).  A phone number or an address is shown
        whole only while its field is being edited, so the resident can check what they
        type; otherwise as a reminder (138****5678, 广东省深圳市福田区华富街道****)."""
        value = str(self.values.get(spec["id"], ""))
        kind = spec.get("type")
        editing = spec["id"] == self.active_field
        if kind == "select":
            labels = {str(o.get("value")): local(o.get("label"), self.app.language) for o in spec.get("options", [])}
            return labels.get(value, "")
        if kind == "id-number":
            return mask_id(self.app, value)
        # a number or address from the platform is never shown whole (the resident did not type it)
        if kind == "phone" and (not editing or (value and value == self.on_record.get("phone"))):
            return mask_phone(value)
        if kind == "address" and (not editing or (value and value == self.on_record.get("address"))):
            return mask_address(value)
        return value

    def set_value(self, field_id: str, value: str) -> None:
        self.values[field_id] = value
        self.rows[field_id].error = ""
        self._show_value(self.spec(field_id))

    def select_field(self, field_id: str) -> None:
        """Show the input that suits this field's type under/next to the form."""
        self.active_field = field_id
        for spec in self.specs:
            self.rows[spec["id"]].ids.value.active = spec["id"] == field_id
            self._show_value(spec)   # only the field being edited shows a phone or address whole
        editor = self.ids.editor
        self._clear_editor()
        if not field_id:
            return
        spec = self.spec(field_id)
        kind = spec.get("type", "text")
        proxy = _FieldProxy(self, field_id)
        self.ids.editor_title.text = local(spec.get("label"), self.app.language)
        on_record = self.on_record.get(kind) if kind in ("phone", "address") else None
        if kind == "phone" and on_record and not self.typing_new:
            # the handlers read the value when tapped: no widget or closure keeps it (forget())
            editor.add_widget(Choice(text=tr("使用此号码 {phone}").format(phone=mask_phone(on_record)),
                                     selected=self.values.get(field_id) == on_record,
                                     on_release=lambda _w: self.use_on_record(field_id, kind)))
            editor.add_widget(Choice(text=tr("换一个号码"), on_release=lambda _w: self.type_new(field_id)))
        elif kind in ("phone", "id-number"):
            editor.add_widget(DigitPad(target=proxy, allow_x=kind == "id-number",
                                       max_length=11 if kind == "phone" else 18))
        elif kind == "select":
            for option in spec.get("options", []):
                value = str(option.get("value"))
                editor.add_widget(Choice(text=local(option.get("label"), self.app.language), value=value,
                                         selected=self.values.get(field_id) == value,
                                         on_release=lambda w: self._choose(field_id, w.value)))
        elif kind == "date":
            picker = DatePicker(target=proxy)
            editor.add_widget(picker)
            picker.load(str(self.values.get(field_id, "")))
        else:
            card = self.session.card if self.session is not None else None
            if kind == "address" and on_record and (card is None or on_record != card.address):
                editor.add_widget(Choice(text=tr("使用上次填写的地址 {address}").format(address=mask_address(on_record)),
                                         on_release=lambda _w: self.use_on_record(field_id, kind)))
            if kind == "address" and card is not None and card.address:
                editor.add_widget(Choice(text=tr("使用身份证上的地址"),
                                         on_release=lambda _w: self.set_value(field_id, card.address)))
            # the pad (40 keys) follows a frame later: the field's value and its one-tap choices
            # are on the glass first (the answer to the tap that opened the field)
            Clock.schedule_once(lambda _dt: self._add_pinyin_pad(field_id, int(spec.get("max_length", 200))), 0)

    def _add_pinyin_pad(self, field_id: str, max_length: int) -> None:
        editor = self.ids.editor
        if self.active_field != field_id or any(isinstance(w, PinyinPad) for w in editor.children):
            return
        editor.add_widget(PinyinPad(target=_FieldProxy(self, field_id), max_length=max_length))

    def _clear_editor(self) -> None:
        """Empty the input area; its chips' texts too (a touch keeps the last widget it
        touched, and a chip may show a masked number on record)."""
        for chip in self.ids.editor.children:
            if isinstance(chip, Label):
                blank(chip)
        self.ids.editor.clear_widgets()

    def _choose(self, field_id: str, value: str) -> None:
        self.set_value(field_id, value)
        self.select_field(field_id)

    def reword_errors(self) -> None:
        """Re-word the problems already shown (after a language switch)."""
        lang = self.app.language
        for spec in self.specs:
            if self.rows[spec["id"]].error:
                problem = tx.validate_field(spec, self.values.get(spec["id"], ""))
                self.rows[spec["id"]].error = tx.problem_text(problem, lang) if problem else ""

    def submit(self) -> None:
        """下一步: every problem is shown at once; the first one is opened for editing."""
        lang = self.app.language
        first_bad = None
        for spec in self.specs:
            value = clean_text(self.values.get(spec["id"], ""))
            if spec.get("type") == "id-number":
                value = value.upper()
            problem = tx.validate_field(spec, value)
            self.rows[spec["id"]].error = tx.problem_text(problem, lang) if problem else ""
            first_bad = first_bad or (spec["id"] if problem else None)
            self.values[spec["id"]] = value
        if first_bad:
            self.select_field(first_bad)
            self.ids.scroll.scroll_to(self.rows[first_bad])
            return
        self.session.form = {k: v for k, v in self.values.items() if v}
        next_step(self.app)


class _FieldProxy:
    """What the pads type into: ``.text`` reads and writes the field's value."""

    def __init__(self, screen: FormScreen, field_id: str):
        self.screen, self.field_id = screen, field_id

    @property
    def text(self) -> str:
        return str(self.screen.values.get(self.field_id, ""))

    @text.setter
    def text(self, value: str) -> None:
        self.screen.set_value(self.field_id, value)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
