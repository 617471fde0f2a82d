"""How numbers read in the report; registered as Jinja filters by `cxtruth.output.render`.

Rounding happens here and only here: models and JSON keep full precision.
"""

from __future__ import annotations

UNIT_SUFFIX = {"points": "", "percent": " %", "days": " d"}
CHANGE_SUFFIX = {"points": " pts", "percent": " pp", "days": " d"}
MINUS = "\u2212"


def fmt_value(value: float | None, unit: str = "points", digits: int = 1) -> str:
    if value is None:
        return "no data"
    text = f"{value:,.{digits}f}".replace("-", MINUS)
    return text + UNIT_SUFFIX.get(unit, "")


def fmt_change(change: float | None, unit: str = "points") -> str:
    if change is None:
        return "—"
    if round(change, 1) == 0:
        return "±0.0" + CHANGE_SUFFIX.get(unit, "")
    sign = "+" if change > 0 else MINUS
    return f"{sign}{abs(change):,.1f}{CHANGE_SUFFIX.get(unit, '')}"


def fmt_count(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def fmt_target(value: float, unit: str, direction: str) -> str:
    sign = "≥" if direction == "higher" else "≤"
    return f"{sign} {fmt_value(value, unit)}"
