"""config.toml as typed, validated models (DATA_CONTRACT.md §6).

Unknown keys and wrong types are errors naming the key; relative paths are
resolved against the folder that holds the config file.
"""

from __future__ import annotations

import codecs
import os
import string
import tomllib
from functools import partial
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, create_model, field_validator,
                      model_validator)

from .errors import ConfigError
from .metrics import BUILT_IN, MetricSettings
from .metrics.custom import CustomMetricSettings, check_custom_metric
from .metrics.declare import Days
from .schema import DEFAULT_CHECKLIST, SOURCES, SourceSpec, custom_spec, source_spec

DEFAULT_FUNCTIONS = ("Sales", "Customer Success", "Product", "Support", "CX Leadership")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Every number in config.toml is finite and bounded (Threshold, Days: cxtruth.metrics.declare):
# TOML allows inf, nan and 1e308, and each of them once passed validation and then crashed
# later (a chart axis, a timer, a date).
# Metric values are percentages, days or NPS points; a million either way is beyond any.

# What str.splitlines() breaks a line at, and NUL: none belongs in a one-line header value
# (mail software treats several of these as line ends, and \r\n allows header injection).
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029\0"


def _one_line(value: str) -> str:
    if any(ch in LINE_BREAKS for ch in value):
        raise ValueError("must not contain line breaks (or other line separators, or NUL characters)")
    return value


def _shown(value: str, limit: int = 40) -> str:
    """A user's value quoted in a message, cut so a huge one does not flood the terminal."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"… ({len(value):,} characters)"


def _key(part) -> str:
    """A key of config.toml in a message: as written when it is a plain name (TOML's quoted
    keys may hold line breaks or be huge; the message must stay one line)."""
    text = str(part)
    return text if text.isprintable() and len(text) <= 64 else _shown(text)


class ReportConfig(_Strict):
    title: str = "Monthly CX Truth Session"  # title and company: one line each (they go into the subject)
    company: str = "Your company"
    timezone: str = "UTC"
    output_dir: str = "reports"
    meeting_minutes: int = Field(60, ge=15, le=480, strict=True)
    # Owning functions in customer-journey order; the agenda follows it.
    functions: list[str] = Field(default_factory=lambda: list(DEFAULT_FUNCTIONS), min_length=1)
    # A source whose newest row is older than the month's end by more than this marks the report DRAFT.
    max_staleness_days: Days = 3
    # A source with more than this share of its rows rejected is "weakened": its metrics show no
    # data and the report is a DRAFT (docs/decisions.md, decision 47).
    max_rejected_share: float = Field(0.05, ge=0, le=1, allow_inf_nan=False, strict=True)
    # A folder of templates searched before the packaged ones (run in Jinja's sandbox).
    template_dir: str | None = None
    # HTML and PDF rendering past this many seconds fails the run with nothing written.
    render_timeout_seconds: FiniteFloat = Field(300, gt=0, le=86400)

    @field_validator("title", "company", "output_dir", "template_dir")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        # Paths too: they are named in error messages, which are one line each.
        return value if value is None else _one_line(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
            raise ValueError(f"unknown IANA time zone {_shown(value)} (e.g. 'Europe/Berlin', 'UTC')")
        return value

    @field_validator("functions")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        for name in value:
            _one_line(name)  # headings, and named in messages
            if not name.strip():
                raise ValueError("function names must not be blank")
        if len(set(value)) != len(value):
            raise ValueError("function names must be distinct")
        return value


class DataConfig(_Strict):
    dir: str = "sample_metrics"  # holds <source>.csv for sources without a path

    @field_validator("dir")
    @classmethod
    def _single_line(cls, value: str) -> str:
        return _one_line(value)


class SourceConfig(_Strict):
    path: str | None = None
    # A table or view in [warehouse] instead of a file ("schema.table" where the engine has
    # schemas): read and validated there, never copied here (docs/warehouse.md).
    table: str | None = None
    # A table source's column that orders repeated ids: the row with the latest value wins.
    # Without it, rows repeating an id are rejected and counted (a table has no row order).
    order_by: str | None = None
    encoding: str = "utf-8"
    delimiter: str = ","
    decimal: Literal[".", ","] = "."
    # A strptime pattern, a list of them tried in order, or "epoch", "epoch_ms", "excel".
    date_format: str | list[str] | None = None
    timezone: str | None = None  # the zone of timestamps written without an offset; default the report's
    locale: str | None = None  # month and day names in this language (CLDR, e.g. "es", "de")
    thousands: Literal[",", ".", " ", "'"] | None = None  # a thousands mark numbers may carry ("4,000.00")
    # Where the table is (docs/sources.md, "Header rows and trailers").
    header_row: int = Field(1, ge=1, le=10_000, strict=True)
    header_rows: int = Field(1, ge=1, le=10, strict=True)
    skip_rows: int = Field(0, ge=0, le=10_000, strict=True)
    trailers: list[str] = Field(default_factory=list)  # regular expressions for lines after the data
    detect_trailers: bool = Field(True, strict=True)  # also the common report trailers ("Grand Totals (3 records)", ...)
    where: str | None = None  # keep only rows matching this condition on the export's own columns
    # Canonical columns whose blank cell means "not a row" (a respondent who skipped the NPS
    # question): such rows are filtered out and counted, not rejected.
    skip_blank: list[str] = Field(default_factory=list)
    # Canonical columns computed from the export's own (e.g. mrr from a price and its billing
    # interval), instead of read from one header: canonical name = expression.
    compute: dict[str, str] = Field(default_factory=dict)
    # accounts: rows that repeat an account id are parts of one account (a row per subscription),
    # combined instead of "the last row wins" (docs/sources.md, "Stripe").
    combine_repeated: bool = Field(False, strict=True)
    sheet: str | int | None = None  # a workbook's sheet, by name or number (1 = the first)
    preset: str | None = None  # a tool's export layout (docs/sources.md, "Presets"); applied before validation
    columns: dict[str, str] = Field(default_factory=dict)
    max_staleness_days: Days | None = None  # default: [report] max_staleness_days
    max_rejected_share: float | None = Field(None, ge=0, le=1, allow_inf_nan=False, strict=True)  # default: [report]'s

    @field_validator("path", "table", "order_by")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        return value if value is None else _one_line(value)

    @model_validator(mode="after")
    def _file_or_table(self):
        if self.table is None:
            if self.order_by is not None:
                raise ValueError("order_by: only for a table source (a file's last row wins)")
            return self
        if self.path is not None:
            raise ValueError("a source is a file (path) or a warehouse table (table), not both")
        if not self.table.strip():
            raise ValueError("table: must name a table or view")
        file_only = [name for name in TABLE_IGNORES if name in self.model_fields_set]
        if file_only:
            raise ValueError(f"{file_only[0]}: a table source has typed columns and no file layout; "
                             f"remove {file_only[0]} (supported for tables: table, columns, order_by, where, "
                             "timezone, max_staleness_days, max_rejected_share)")
        return self

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codec = codecs.lookup(value)
        except (LookupError, ValueError):  # ValueError: a NUL in the name
            raise ValueError(f"unknown encoding {_shown(value)} (e.g. 'utf-8', 'cp1252', 'utf-16')")
        # rot13, base64, hex, zlib... are codecs too, but turn bytes into bytes, not text.
        if not getattr(codec, "_is_text_encoding", True):
            raise ValueError(f"{_shown(value)} is not a text encoding (e.g. 'utf-8', 'cp1252', 'utf-16')")
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        value = one_char_delimiter(value)
        # Arrow's parser takes one ASCII byte; a control character or a quote would split nothing sensible.
        if len(value) != 1 or value in "\"\r\n" or not (value == "\t" or (value.isascii() and value.isprintable())):
            raise ValueError("delimiter must be one printable ASCII character (or \"\\t\") other than a quote")
        return value

    @field_validator("date_format")
    @classmethod
    def _date_patterns(cls, value):
        from .sources.dates import check_date_format

        check_date_format(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _source_zone(cls, value: str | None) -> str | None:
        if value is None or value == "header":  # "header": each column's header names its zone (Intercom)
            return value
        return ReportConfig._known_zone(value)

    @field_validator("locale")
    @classmethod
    def _cldr_locale(cls, value: str | None) -> str | None:
        from .sources.dates import check_locale

        return check_locale(value)

    @field_validator("trailers")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        import re

        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression ({exc})") from None
        return value

    @field_validator("where")
    @classmethod
    def _condition(cls, value: str | None) -> str | None:
        if value is not None:
            _check_expression(value)
        return value

    @field_validator("compute")
    @classmethod
    def _expressions(cls, value: dict[str, str]) -> dict[str, str]:
        from .expressions import is_value, parse

        for canonical, expression in value.items():
            _check_expression(expression, f"{canonical}: ")
            if not is_value(parse(expression)):
                raise ValueError(f"{canonical}: {expression!r} is a condition; a computed column is a value "
                                 "(columns, numbers, + - * /, monthly(), lower(), trim())")
        return value

    @field_validator("sheet")
    @classmethod
    def _sheet(cls, value):
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise ValueError("a sheet number counts from 1 (the first sheet)")
        return value

    @field_validator("thousands")
    @classmethod
    def _thousands(cls, value, info):
        if value is not None and value == info.data.get("decimal"):
            raise ValueError("the thousands mark must differ from the decimal mark")
        return value

    @property
    def row_options(self):
        """How the line-by-line reader takes this source (`cxtruth.sources.rows`)."""
        from .sources.layout import TableLayout
        from .sources.rows import RowOptions

        layout = TableLayout(self.header_row, self.header_rows, self.skip_rows, tuple(self.trailers),
                             self.detect_trailers)
        return RowOptions(layout, self.where, self.sheet, self.encoding, self.delimiter, tuple(self.skip_blank),
                          dict(self.compute))

    @property
    def date_rule(self):
        """How this source writes dates (`cxtruth.sources.dates.DateRule`)."""
        from .sources.dates import DateRule

        return DateRule.of(self.date_format, self.timezone, self.locale)


# What only a file has: a table's cells are typed by the warehouse, and it has no header rows.
TABLE_IGNORES = ("encoding", "delimiter", "decimal", "date_format", "locale", "thousands", "header_row",
                 "header_rows", "skip_rows", "trailers", "detect_trailers", "skip_blank", "compute",
                 "combine_repeated", "sheet", "preset")


class WarehouseConfig(_Strict):
    """[warehouse]: the engine table sources live in (docs/warehouse.md). Secrets never here:
    the password or token comes from $CXTRUTH_WAREHOUSE_PASSWORD."""

    backend: Literal["duckdb", "pyspark", "postgres", "snowflake", "bigquery", "trino", "databricks"]
    # Passed to the backend's connection as written; for pyspark, `master` and Spark settings
    # for the session builder. Values are text, numbers or true/false.
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _no_secrets(cls, value: dict) -> dict:
        for key in value:
            if any(word in key.lower() for word in SECRET_WORDS):
                raise ValueError(f"{_key(key)}: secrets are not written in config.toml; set "
                                 "$CXTRUTH_WAREHOUSE_PASSWORD in the environment instead")
        return value


SECRET_WORDS = ("password", "passwd", "pwd", "passphrase", "secret", "token", "private_key", "credentials")


def _check_expression(text: str, prefix: str = "") -> None:
    """A config expression parsed now, so a mistake is a config error naming its position."""
    from .expressions import ExpressionError, parse

    try:
        parse(text)
    except ExpressionError as exc:
        raise ValueError(f"{prefix}{exc} in {text!r}") from None


class HandoffSourceConfig(SourceConfig):
    checklist: list[str] = Field(default_factory=lambda: list(DEFAULT_CHECKLIST), min_length=1)


TypeWord = Literal["text", "integer", "number", "boolean", "date", "datetime"]  # CUSTOM_TYPES' keys


class CustomSourceConfig(SourceConfig):
    """[sources.<name>] for a name that is not a built-in source: an export of the company's
    own (docs/sources.md, "Custom sources"). Read by the same reader, with the same options."""

    path: str | None = None  # no default file name: a custom source says where its export (or table) is
    key: str | list[str] | None = None  # repeated keys: the last row wins
    types: dict[str, TypeWord] = Field(min_length=1)  # canonical column = type word, in the file's terms


    @property
    def key_columns(self) -> tuple[str, ...]:
        return (self.key,) if isinstance(self.key, str) else tuple(self.key or ())


class SourcesConfig(_Strict):
    # Tables other than the built-in ones are custom sources, validated as CustomSourceConfig.
    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, CustomSourceConfig]

    nps: SourceConfig = SourceConfig()
    accounts: SourceConfig = SourceConfig()
    adoption: SourceConfig = SourceConfig()
    handoffs: HandoffSourceConfig = HandoffSourceConfig()
    feedback: SourceConfig = SourceConfig()
    actions: SourceConfig = SourceConfig()
    awareness: SourceConfig = SourceConfig()

    @model_validator(mode="before")
    @classmethod
    def _apply_presets(cls, data):
        """A source's `preset` fills the keys its table leaves out (docs/sources.md, "Presets")."""
        if not isinstance(data, dict):
            return data
        _check_custom_names(data)
        from .sources.presets import PRESETS

        out = dict(data)
        for name, table in data.items():
            if not isinstance(table, dict) or table.get("preset") is None:
                continue
            preset = PRESETS.get(table["preset"]) if isinstance(table["preset"], str) else None
            if preset is None:
                raise ValueError(f"sources.{name}.preset: unknown preset {table['preset']!r} "
                                 f"(one of: {', '.join(sorted(PRESETS))})")
            if preset.source != name:
                raise ValueError(f"sources.{name}.preset: {preset.name} exports feed [sources.{preset.source}], "
                                 f"not [sources.{name}]")
            applied = preset.applied(table)
            required = {c.name for c in SOURCES[name].columns if c.required}
            for canonical, what in preset.must_map.items():
                if canonical in required and canonical not in applied["columns"]:
                    raise ValueError(f"sources.{name}.columns.{canonical}: the {preset.name} preset cannot know "
                                     f"it; map {what}")
            out[name] = {**applied, "preset": preset.name}
        return out

    @model_validator(mode="after")
    def _mapped_columns_exist(self) -> "SourcesConfig":
        for name in [*SOURCES, *self.custom]:
            source = self.get(name)
            if source.order_by is not None and not self.spec(name).unique_key:
                raise ValueError(f"sources.{name}.order_by: {name} has no id to repeat (each row is its own), "
                                 "so there is nothing to order; remove order_by")
            known = set(self.spec(name).names)
            for canonical in [*source.columns, *source.skip_blank, *source.compute]:
                if canonical not in known:
                    raise ValueError(
                        f"sources.{name}.columns.{_key(canonical)}: not a column of {name} "
                        f"(expected one of: {', '.join(sorted(known))})" if name in SOURCES else
                        f"sources.{name}.columns.{_key(canonical)}: not declared under [sources.{name}.types] "
                        f"(declared: {', '.join(known)})"
                    )
        for name, source in self.custom.items():
            for canonical in source.types:
                if not (canonical.isidentifier() and canonical.isascii()):
                    raise ValueError(f"sources.{name}.types.{_key(canonical)}: a column name is letters, digits "
                                     "and _ (not starting with a digit); map the export's header to it under "
                                     f"[sources.{name}.columns]")
            for canonical in source.key_columns:
                if canonical not in source.types:
                    raise ValueError(f"sources.{name}.key: {_shown(canonical)} is not declared under "
                                     f"[sources.{name}.types] (declared: {', '.join(source.types)})")
            if source.combine_repeated:
                raise ValueError(f"sources.{name}.combine_repeated: only for [sources.accounts]; a custom source's "
                                 "repeated key keeps its last row")
        return self

    @property
    def custom(self) -> dict[str, CustomSourceConfig]:
        """The custom sources, in config order."""
        return dict(self.model_extra or {})

    def get(self, name: str) -> SourceConfig:
        """The table of source ``name``, built-in or custom."""
        return getattr(self, name) if name in SOURCES else self.custom[name]

    def spec(self, name: str) -> SourceSpec:
        """What source ``name`` holds: the contract's columns, or a custom source's declared ones."""
        if name in SOURCES:
            return source_spec(name, self.handoffs.checklist) if name == "handoffs" else SOURCES[name]
        source = self.custom[name]
        return custom_spec(name, dict(source.types), source.key_columns)


def _check_custom_names(data: dict) -> None:
    """A table that is not a built-in source must be a custom one, under a usable name."""
    for name, table in data.items():
        if name in SOURCES:
            if isinstance(table, dict) and ("types" in table or "key" in table):
                word = "types" if "types" in table else "key"
                raise ValueError(f"sources.{name}.{word}: {name} is a built-in source with the contract's columns "
                                 "(docs/sources.md); declare a custom source under another name")
            continue
        if not (isinstance(name, str) and name.isidentifier() and name.isascii()) or name.startswith("_"):
            raise ValueError(f"sources.{_key(name)}: a custom source's name is letters, digits and _ "
                             "(not starting with a digit or _)")
        if hasattr(SourcesConfig, name) or hasattr(CustomSourceConfig, name):
            raise ValueError(f"sources.{name}: {name!r} is a reserved name; give the custom source another")
        if isinstance(table, dict) and "types" not in table:
            raise ValueError(f"sources.{name}: not a built-in source ({', '.join(SOURCES)}); a custom source "
                             f"declares its columns under [sources.{name}.types]")
        if isinstance(table, dict) and "path" not in table and "table" not in table:
            # no default file name: a custom source says where its export (or table) is
            raise ValueError(f"sources.{name}.path: required key is missing")


# A metric's settings model is declared with the metric (cxtruth.metrics); this name stays for readers.
MetricConfig = MetricSettings


def _metric_default(key: str) -> MetricSettings:
    metric = BUILT_IN[key]
    return metric.settings(**metric.default_settings())


class _MetricsBase(BaseModel):
    # A table whose key is not a built-in metric declares a custom one (cxtruth.metrics.custom).
    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, CustomMetricSettings]

    @model_validator(mode="before")
    @classmethod
    def _fill_partial_tables(cls, data):
        # A [metrics.nps] table that sets only target keeps the declaration's owner etc.
        if isinstance(data, dict):
            for key, table in data.items():
                _check_custom_key(cls, key, table)
            data = {k: {**BUILT_IN[k].default_settings(), **v} if k in BUILT_IN and isinstance(v, dict) else v
                    for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _keys_fit_kinds(self):
        for key, metric in self.custom.items():
            problem = metric.kind_problem()
            if problem:
                raise ValueError(f"metrics.{key}.{problem[0]}: {problem[1]}")
        return self

    @property
    def custom(self) -> dict[str, CustomMetricSettings]:
        """The custom metrics' settings, by key, in config order."""
        return dict(self.model_extra or {})

    def get(self, key: str) -> MetricSettings:
        return getattr(self, key) if key in BUILT_IN else self.custom[key]


def _check_custom_key(model, key, table) -> None:
    """A custom metric's key is a plain name of its own (it names the metric in JSON and actions.csv)."""
    if key in BUILT_IN:
        if isinstance(table, dict) and "kind" in table:
            raise ValueError(f"metrics.{key}: {key} is a built-in metric; a custom metric needs a key of its own")
        return
    if not (isinstance(key, str) and key.isidentifier() and key.isascii()) or key.startswith("_"):
        raise ValueError(f"metrics.{_key(key)}: a custom metric's key is letters, digits and _ "
                         "(not starting with a digit or _)")
    if hasattr(model, key):
        raise ValueError(f"metrics.{key}: {key!r} is a reserved name; give the custom metric another key")


# [metrics]: one table per metric, each with the model and defaults its declaration gives.
MetricsConfig = create_model(
    "MetricsConfig", __base__=_MetricsBase,
    **{key: (metric.settings, Field(default_factory=partial(_metric_default, key))) for key, metric in BUILT_IN.items()},
)


SUBJECT_FIELDS = ("company", "title", "month", "month_label")


def subject_parts(subject: str) -> list[tuple[str, str | None]]:
    """The subject as (literal text, placeholder name or None) pairs; raises ValueError
    unless every placeholder is a plain documented name.

    str.format would also take ``{company.__class__}`` (Python's internals in a mail),
    ``{title[0]}``, ``{company!r}`` and ``{company:2000000000}`` (2 GB allocated): none of
    that is documented, so none of it is accepted.
    """
    placeholders = ", ".join("{" + name + "}" for name in SUBJECT_FIELDS)
    try:
        parsed = list(string.Formatter().parse(subject))
    except ValueError as exc:  # a lone { or }
        raise ValueError(f"{exc} (write {{{{ or }}}} for a literal brace; placeholders: {placeholders})")
    parts = []
    for literal, name, spec, conversion in parsed:
        if name is not None and (name not in SUBJECT_FIELDS or spec or conversion):
            written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ValueError(f"unknown placeholder {_shown(written)}; use {placeholders} "
                             "(no attributes, indexes or format specs)")
        parts.append((literal, name))
    return parts


class EmailConfig(_Strict):
    """[email]: where `render --email` sends the PDF. The password is never here (CXTRUTH_SMTP_PASSWORD)."""

    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535, strict=True)
    sender: str
    to: list[str] = Field(min_length=1)
    cc: list[str] = Field(default_factory=list)
    starttls: bool = Field(True, strict=True)  # upgrade a plain connection (port 587); ignored when ssl = true
    ssl: bool = Field(False, strict=True)  # implicit TLS from the first byte (port 465)
    username: str | None = None
    subject: str = "{company}: {title}, {month_label}"
    ca_file: str | None = None  # a private CA to trust in addition to the system's
    timeout_seconds: FiniteFloat = Field(30, gt=0, le=600)
    retry_for_seconds: FiniteFloat = Field(600, ge=0, le=86400)  # temporary failures are retried this long

    @field_validator("sender", "to", "cc", "host", "username", "subject", "ca_file")
    @classmethod
    def _single_line(cls, value):
        # Header injection: a line break in any header value is refused before anything is rendered.
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                _one_line(item)
        return value

    @field_validator("subject")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        subject_parts(value)
        return value

    @field_validator("sender", "to", "cc")
    @classmethod
    def _addresses(cls, value):
        from email.utils import parseaddr

        for item in value if isinstance(value, list) else [value]:
            address = parseaddr(item)[1]
            if "@" not in address or address.startswith("@") or address.endswith("@"):
                raise ValueError(f"{_shown(item)} is not an email address")
            if not address.isascii():  # the send would stop in smtplib with a traceback
                local, _, domain = address.rpartition("@")
                fix = "use an address whose part before @ is ASCII"
                if local.isascii():
                    try:
                        fix = f"write the domain as {domain.encode('idna').decode('ascii')}"
                    except UnicodeError:
                        fix = "write the domain in its xn-- form"
                raise ValueError(f"{_shown(item)}: an address with letters beyond ASCII needs SMTPUTF8, which "
                                 f"cxtruth does not send; {fix}")
        return value


class Config(_Strict):
    report: ReportConfig = ReportConfig()
    data: DataConfig = DataConfig()
    sources: SourcesConfig = SourcesConfig()
    metrics: MetricsConfig = MetricsConfig()
    warehouse: WarehouseConfig | None = None
    email: EmailConfig | None = None
    # Theme name -> keywords, for NPS comments (cxtruth.agenda.themes; docs/metrics.md "Themes").
    themes: dict[str, list[str]] = Field(default_factory=dict)
    # Folder holding config.toml; relative paths are resolved against it.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _owners_are_functions(self) -> "Config":
        functions = set(self.report.functions)
        for key in [*BUILT_IN, *self.metrics.custom]:
            metric = self.metrics.get(key)
            for field, names in (("owner", [metric.owner]), ("consulted", metric.consulted)):
                for name in names:
                    if name not in functions:
                        raise ValueError(
                            f"metrics.{key}.{field}: {_shown(name)} is not one of [report] functions "
                            f"({', '.join(self.report.functions)})"
                        )
        return self

    @field_validator("themes")
    @classmethod
    def _themes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from .agenda.themes import check_themes

        return check_themes(value)

    @model_validator(mode="after")
    def _tables_need_a_warehouse(self) -> "Config":
        tables = [name for name in self.source_names if self.sources.get(name).table is not None]
        if tables and self.warehouse is None:
            raise ValueError(f"sources.{tables[0]}.table: a table source needs a [warehouse] table naming the "
                             "engine it lives in (docs/warehouse.md)")
        return self

    @model_validator(mode="after")
    def _custom_metrics_read_their_source(self) -> "Config":
        for key, metric in self.metrics.custom.items():
            check_custom_metric(key, metric, self.source_columns(metric.source), self.source_names)
        return self

    def source_columns(self, name: str) -> dict[str, str] | None:
        """Source ``name``'s canonical columns and their kinds (None: no such source)."""
        if name not in self.source_names:
            return None
        return {c.name: c.kind for c in self.sources.spec(name).columns}

    @classmethod
    def from_file(cls, path: Path) -> "Config":
        """Read and validate ``path``; raises ConfigError naming the key at fault."""
        raw = read_toml(path)
        if "base_dir" in raw:
            raise ConfigError(f"{path}: base_dir: unknown key")
        try:
            config = cls.model_validate({**raw, "base_dir": path.resolve().parent})
        except ValidationError as exc:
            raise ConfigError(f"{path}: {_first_error(exc)}") from None
        try:
            config.template_dir  # a typo here should stop the run now, not at render time
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        return config

    # -- paths --------------------------------------------------------------

    def resolve(self, relative: str | Path) -> Path:
        """A path from config.toml: ``~`` expanded, relative ones against the config's folder."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def source_path(self, name: str) -> tuple[Path, bool]:
        """(path, user_set) for a source: the configured path or <data.dir>/<name>.csv."""
        path = self.sources.get(name).path
        if path:
            return self.resolve(path), True
        return self.resolve(self.data.dir) / f"{name}.csv", False

    def is_table(self, name: str) -> bool:
        """Whether source ``name`` is a warehouse table, not a file."""
        return self.sources.get(name).table is not None

    @property
    def source_names(self) -> list[str]:
        """Every source to read: the built-in ones in contract order, then the custom ones."""
        return [*SOURCES, *self.sources.custom]

    def source_spec(self, name: str) -> SourceSpec:
        return self.sources.spec(name)

    @property
    def output_dir(self) -> Path:
        return self.resolve(self.report.output_dir)

    @property
    def template_dir(self) -> Path | None:
        """The user's template folder, checked to exist, or None for the packaged templates only."""
        if not self.report.template_dir:
            return None
        folder = self.resolve(self.report.template_dir)
        if not folder.is_dir():
            raise ConfigError(f"report.template_dir: folder not found: {folder}")
        return folder

    def staleness_limit(self, name: str) -> float:
        own = self.sources.get(name).max_staleness_days
        return self.report.max_staleness_days if own is None else own

    def rejection_limit(self, name: str) -> float:
        own = self.sources.get(name).max_rejected_share
        return self.report.max_rejected_share if own is None else own


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    location = ".".join(_key(part) for part in err["loc"] if part != "__root__")
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif err["type"] == "missing":
        message = "required key is missing"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    if location and message.startswith(location + "."):  # the message names the key itself, more exactly
        location = ""
    return f"{location}: {message}{suffix}" if location else message + suffix


def load_config(explicit: str | Path | None = None) -> Config:
    return Config.from_file(find_config(explicit))


def find_config(explicit: str | Path | None) -> Path:
    """--config wins over CXTRUTH_CONFIG, which wins over ./config.toml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("CXTRUTH_CONFIG")
    if env:
        return Path(env)
    return Path("config.toml")


MAX_CONFIG_BYTES = 1 << 20  # a config is a few kB; /dev/zero or a log file given by mistake is not


def read_toml(path: Path) -> dict:
    """config.toml's tables, not validated; raises ConfigError for a missing or unreadable file."""
    try:
        with path.open("rb") as handle:  # read, not stat: a device has no meaningful size
            data = handle.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES >> 20} MiB: not a config file")
        # Line ends translated as read_text did: \r\n and a lone \r become \n.
        return tomllib.loads(data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}")
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively: thousands of levels
        # exhaust Python's stack. No real config nests more than three deep.
        raise ConfigError(f"{path}: config.toml nests too deeply (arrays or inline tables inside each other)")


def one_char_delimiter(value: str) -> str:
    """A delimiter as config.toml may write it: the two characters ``\\t`` mean a tab."""
    return "\t" if value == "\\t" else value
