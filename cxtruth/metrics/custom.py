"""The company's own KPIs, declared in config.toml (docs/metrics.md, "Your own KPIs").

    [metrics.csat]
    label = "CSAT"
    source = "csat"
    date = "answered_at"
    kind = "rate"
    filter = "rating is not null"
    where = "rating >= 4"
    ...

A row of ``source`` belongs to month M when its ``date`` falls in M; ``filter``
keeps the rows counted at all (a NULL comparison keeps nothing); then, by kind:

- rate: 100 * counted rows matching ``where`` / counted rows (a percentage);
- mean, median, p90: of ``value`` over the counted rows that have one (exact);
- count: the counted rows (no data when the month has no rows of the source);
- ratio: counted rows matching ``numerator`` / those matching ``denominator``
  (times 100 when the unit is percent).

Each becomes a `Metric` like the shipped ones; its expressions (cxtruth.expressions)
are parsed and checked against the source's columns when config is validated, and
compiled to Ibis expressions here. Nothing in this module runs `eval`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from ..formatting import fmt_count
from .declare import Metric, MetricSettings, Unit

if TYPE_CHECKING:
    from ..config import Config

Kind = Literal["rate", "mean", "median", "p90", "count", "ratio"]
EXPRESSIONS = ("filter", "where", "value", "numerator", "denominator")
# The keys each kind needs besides `filter`; every other expression key is refused.
NEEDS = {"rate": ("where",), "mean": ("value",), "median": ("value",), "p90": ("value",), "count": (),
         "ratio": ("numerator", "denominator")}
QUANTILES = {"median": 0.5, "p90": 0.9}
WANT = {"filter": "condition", "where": "condition", "numerator": "condition", "denominator": "condition",
        "value": "number"}


class CustomMetricSettings(MetricSettings):
    """[metrics.<key>] for a key that is not built in: a custom metric (docs/configuration.md)."""

    label: str = Field(min_length=1, max_length=80)
    source: str
    date: str
    kind: Kind
    filter: str | None = None
    where: str | None = None
    value: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    unit: Unit | None = None  # default: percent for rate, count for count, days for days(), else number
    definition: str = Field(min_length=1, max_length=1000)
    # What one counted row is, plural, for the card ("answers", "tickets"); default "<source> rows".
    noun: str | None = Field(None, min_length=1, max_length=40)

    @field_validator("label", "noun")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("must be one line of printable text")
        return value

    @field_validator(*EXPRESSIONS)
    @classmethod
    def _parses(cls, text: str | None) -> str | None:
        from ..expressions import ExpressionError, parse

        if text is not None:
            try:
                parse(text)
            except ExpressionError as exc:
                raise ValueError(f"{exc} in {text!r}") from None
        return text

    def kind_problem(self) -> tuple[str, str] | None:
        """(key, what is wrong) when the keys set do not fit the kind: each kind needs its own
        expression keys and refuses the others (checked where the metric's key is known)."""
        needs = NEEDS[self.kind]
        for key in needs:
            if getattr(self, key) is None:
                return key, (f"a {self.kind} metric needs {' and '.join(needs)} "
                             "(docs/metrics.md, \"Your own KPIs\")")
        for key in EXPRESSIONS[1:]:
            if key not in needs and getattr(self, key) is not None:
                wanted = f"it takes {' and '.join(needs)}" if needs else "it counts the rows filter keeps"
                return key, f"a {self.kind} metric has no {key}; {wanted}"
        if self.kind == "rate" and self.unit not in (None, "percent"):
            return "unit", f"a rate is a percentage (unit = \"percent\"), not {self.unit!r}"
        return None

    def expressions(self) -> dict[str, str]:
        """The expression keys it sets, as written, in reading order."""
        return {key: getattr(self, key) for key in EXPRESSIONS if getattr(self, key) is not None}


def check_custom_metric(key: str, settings: CustomMetricSettings, columns: dict[str, str] | None,
                        sources: list[str]) -> None:
    """Raise ValueError naming ``metrics.<key>.<field>`` when the source is unknown or an
    expression reads a column the source does not have, or has the wrong type.
    ``columns``: the source's columns and their kinds (None: no such source)."""
    from ..expressions import ExpressionError, check, parse

    if columns is None:
        raise ValueError(f"metrics.{key}.source: {settings.source!r} is not a source (expected one of: "
                         f"{', '.join(sources)}; declare your own under [sources.<name>])")
    if settings.date not in columns or columns[settings.date] not in ("date", "datetime"):
        dates = [name for name, kind in columns.items() if kind in ("date", "datetime")]
        what = "not a column" if settings.date not in columns else f"a {columns[settings.date]} column, not a date"
        raise ValueError(f"metrics.{key}.date: {settings.date!r} is {what} of {settings.source} "
                         f"(expected one of: {', '.join(dates) or 'none: it has no date column'})")
    for field, text in settings.expressions().items():
        try:
            check(parse(text), columns, WANT[field])
        except ExpressionError as exc:
            raise ValueError(f"metrics.{key}.{field}: {exc} in {text!r}") from None


def custom_metrics(config: "Config") -> dict[str, Metric]:
    """The custom metrics of ``config``, by key, in the order config.toml lists them."""
    return {key: declare(key, settings) for key, settings in config.metrics.custom.items()}


def unit_of(settings: CustomMetricSettings) -> str:
    from ..expressions import is_days, parse

    if settings.unit is not None:
        return settings.unit
    if settings.kind in ("rate", "count"):
        return {"rate": "percent", "count": "count"}[settings.kind]
    if settings.kind != "ratio" and is_days(parse(settings.value)):
        return "days"
    return "number"


def declare(key: str, settings: CustomMetricSettings) -> Metric:
    """A custom metric's declaration, read by the engine, the scorer and the report like a shipped one."""
    unit = unit_of(settings)
    noun = settings.noun or f"{settings.source} rows"
    kind = settings.kind
    sample_noun = {"rate": f"{noun} counted", "count": f"{noun} counted", "ratio": f"{noun} in the denominator"
                   }.get(kind, f"{noun} with a value")
    notes = (f"Kind: {kind} of {settings.source} rows, each in the month of its {settings.date}.",
             *(f"{field.capitalize()}: {text}" for field, text in settings.expressions().items()))
    return Metric(
        key=key, label=settings.label, unit=unit, sources=(settings.source,), definition=settings.definition,
        owner=settings.owner, consulted=tuple(settings.consulted), target=settings.target, warn=settings.warn,
        direction=settings.direction, min_sample=settings.min_sample,
        sample="denominator" if kind == "ratio" else "n", sample_noun=sample_noun,
        parts=_parts, value=_value, facts=lambda e: _facts(e, kind, noun),
        # An optional column the export lacks: the metric is unknown, not zero.
        needs_columns=tuple((settings.source, column) for column in sorted(_read(settings))),
        settings=CustomMetricSettings, custom=True, notes=notes, kind=kind,
    )


def _parts(window, settings: CustomMetricSettings) -> dict[str, Any] | None:
    from ibis import _

    from ..expressions import is_days, microseconds, parse, to_ibis

    table = window.table(settings.source)
    if table is None or not all(c in table.columns for c in _read(settings)):
        return None
    rows = table.mutate(m=window.month_of(table[settings.date])).filter(_.m.notnull())

    def condition(text: str | None):
        # no filter: every row of the month (a column, so that it can be summed per month)
        return rows.m.notnull() if text is None else to_ibis(parse(text), rows).fill_null(False)

    def counted(expr):
        return expr.sum().fill_null(0)

    kept = condition(settings.filter)
    if settings.kind in ("rate", "count", "ratio"):
        extra = {key: counted(kept & condition(getattr(settings, key))) for key in NEEDS[settings.kind]}
        if settings.kind == "rate":
            extra = {"matching": extra["where"]}
        return {"counts": rows.group_by("m").agg(rows=_.count(), n=counted(kept), **extra)}
    node = parse(settings.value)
    # days(a - b) is ranked and summed in whole microseconds: exact, in any engine's order.
    values = rows.filter(kept).mutate(v=microseconds(node, rows) if is_days(node) else to_ibis(node, rows))
    values = values.filter(values.v.notnull())
    if settings.kind == "mean":
        total = values.v.sum() if is_days(node) else values.v.cast("float64").sum()
        return {"sums": values.group_by("m").agg(n=_.count(), total=total)}
    return {"ranked": window.order_statistics(values, "v", (QUANTILES[settings.kind],))}


def _read(settings: CustomMetricSettings) -> set[str]:
    from ..expressions import columns, parse

    return set().union({settings.date}, *(columns(parse(t)) for t in settings.expressions().values()))


def _value(parts, settings: CustomMetricSettings) -> dict[str, Any]:
    from ..expressions import is_days, parse
    from .stats import days_from_us, num, pct, quantile

    kind = settings.kind
    keys = {"rate": ("n", "matching"), "count": ("n",), "ratio": ("numerator", "denominator")}.get(kind, ("n",))
    if parts is None:
        return {"value": None, **dict.fromkeys(keys)}
    if kind in ("rate", "count", "ratio"):
        counts = parts["counts"]
        got = {k: int(counts[k].sum()) for k in ("rows", *keys)}
        if kind == "rate":
            value = pct(got["matching"], got["n"])
        elif kind == "count":
            value = got["n"] if got["rows"] else None  # a month without rows is no data, not 0
        elif unit_of(settings) == "percent":
            value = pct(got["numerator"], got["denominator"])
        else:
            value = got["numerator"] / got["denominator"] if got["denominator"] else None
        return {"value": value, **{k: got[k] for k in keys}}
    days = is_days(parse(settings.value))
    if kind == "mean":
        sums = parts["sums"]
        n = int(sums["n"].sum())
        if not n:
            return {"value": None, "n": 0}
        total = sums["total"].iloc[0]
        return {"value": (days_from_us(int(total)) if days else float(total)) / n, "n": n}
    ranked_rows = parts["ranked"]
    n = int(ranked_rows["n"].iloc[0]) if len(ranked_rows) else 0
    ranked = {int(r): (days_from_us(int(v)) if days else float(v))
              for r, v in zip(ranked_rows["rank"], ranked_rows["v"])}
    return {"value": num(quantile(n, ranked, QUANTILES[kind])), "n": n}


def _facts(e: dict[str, Any], kind: str, noun: str) -> list[str]:
    if kind == "ratio":
        if e.get("denominator") is None:
            return []
        return [f"{fmt_count(e['numerator'])} {noun} in the numerator, {fmt_count(e['denominator'])} "
                "in the denominator"]
    if e.get("n") is None:
        return []
    if kind == "rate":
        return [f"{fmt_count(e['n'])} {noun} counted; {fmt_count(e['matching'])} matching"]
    if kind == "count":
        return [f"{fmt_count(e['n'])} {noun} counted"]
    return [f"{fmt_count(e['n'])} {noun} with a value"]
