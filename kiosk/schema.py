"""What the typed models of the menu and the config share (pydantic v2).

Both documents come from outside the program (a signed bundle, a TOML file a
technician edited), so both are validated the same strict way: no unknown
keys, no coercion ("5" is not 5, true is not 1), every number inside a range
that means something, and the result is read-only.  Each document keeps its
own wording for the problems it reports; this module only gives them the
parts: where the problem is (:func:`json_path`) and what was found there
(:func:`kind_of`).
"""
from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic_core import PydanticCustomError


class StrictModel(BaseModel):
    """Unknown keys are errors, types are exact, and a validated model is never changed."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, validate_default=True)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):  # private state a model derives from its fields (an index)
            return super().__setattr__(name, value)
        raise AttributeError(f"{type(self).__name__} is read-only")


def in_range(low: float, high: float):
    """An AfterValidator for ``low <= value <= high``; NaN and infinities are never in range."""

    def check(value: float) -> float:
        if not (math.isfinite(value) and low <= value <= high):
            raise PydanticCustomError("out_of_range", "is out of range (allowed: {low} to {high})",
                                      {"low": low, "high": high})
        return value
    return AfterValidator(check)


def Ranged(kind: type, low: float, high: float):
    """``Ranged(int, 1, 65535)``: an int (or float) field whose value must lie in the range."""
    if kind is float:
        low, high = float(low), float(high)
    return Annotated[kind, in_range(low, high)]


def json_path(loc: tuple) -> str:
    """A pydantic error location as the JSONPath-like form the findings use: ``$.a[0].b``."""
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def kind_of(value: Any) -> str:
    """What a JSON/TOML value is, in the words of a problem report ("a list", "a number")."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null", int: "a number", float: "a number"}.get(type(value), type(value).__name__)
