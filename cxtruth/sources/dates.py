"""Dates and times as exports write them: ISO 8601, strptime patterns, epoch, Excel serials.

`DateRule` is a source's `date_format` (one pattern, a list tried in order,
or `epoch` / `epoch_ms` / `excel`), its `timezone` for offset-less values and
its `locale` for month and day names. `check_date_format` is run when config
loads, so a bad pattern is a config error naming the key, never a traceback
later. `parse_timestamps` turns a column of text cells into naive wall-clock
times in the report zone; a cell that matches nothing is NaT (the caller
names it as a rejected row, quoting `DateRule.expectation`).

Vectorised: ISO 8601 and each pattern go through Arrow's `strptime` kernel
first (C++, multi-threaded); only cells it cannot read (fractional seconds,
say) go through pandas' strptime. Month names in another language are
translated to English with CLDR data (Babel) before either sees them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .csvplan import OFFSET_RE, SPECIAL_FORMATS, with_times

# What a pattern needs to name a day: a year, and a month and day (or a day of the year).
_DATE_PARTS = (("%Y", "%y", "%G"), ("%m", "%b", "%B", "%j", "%U", "%W", "%V"))
# Excel's day 0 (its serials count from 1900-01-01 = 1, with 1900 taken as a leap year).
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
# Epoch values outside these years are a wrong unit (ms read as s), not a date.
_EARLIEST, _LATEST = pd.Timestamp("1970-01-01"), pd.Timestamp("2200-01-01")
_ENGLISH_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ENGLISH_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def check_date_format(value: str | list[str] | None) -> tuple[str, ...]:
    """The patterns of a `date_format` setting; raises ValueError saying what is wrong."""
    if value is None:
        return ()
    patterns = [value] if isinstance(value, str) else list(value)
    if not patterns:
        raise ValueError("give a pattern such as '%d/%m/%Y', a list of them, "
                         "or one of 'epoch', 'epoch_ms', 'excel'")
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise ValueError(f"{pattern!r} is not text")
        if pattern in SPECIAL_FORMATS:
            if len(patterns) > 1:
                raise ValueError(f"{pattern!r} cannot be combined with other patterns")
            continue
        _check_pattern(pattern)
    return tuple(patterns)


def _check_pattern(pattern: str) -> None:
    if "%" not in pattern:
        raise ValueError(f"{pattern!r} is not a strptime pattern (e.g. '%d/%m/%Y'), "
                         "'epoch', 'epoch_ms' or 'excel'")
    if "%s" in pattern.replace("%%", ""):
        raise ValueError(f"{pattern!r}: for seconds since 1970 write date_format = 'epoch' "
                         "('epoch_ms' for milliseconds)")
    for group in _DATE_PARTS:
        if not any(d in pattern for d in group):
            raise ValueError(f"{pattern!r} names no {'year' if '%Y' in group else 'month'} "
                             f"(one of {', '.join(group)})")
    if "%Z" in pattern:
        raise ValueError(f"{pattern!r}: %Z (a zone name such as PST) is not read; write %z for an offset "
                         "(+0200, Z), or set the source's timezone")
    if "%I" in pattern and "%p" not in pattern:
        raise ValueError(f"{pattern!r}: a 12-hour clock (%I) needs %p (AM/PM)")
    try:  # pandas' own strptime compiles the pattern: bad directives and repeats fail here
        pd.to_datetime(pd.Series(["x"]), format=pattern, errors="coerce")
    except (ValueError, re.error) as exc:
        raise ValueError(f"{pattern!r} is not a valid pattern ({_short(exc)})") from None


def _short(exc: Exception) -> str:
    return str(exc).split("\n")[0][:120]


def check_locale(value: str | None) -> str | None:
    """A CLDR locale name (``es``, ``de_CH``, ``pt-BR``); raises ValueError if Babel does not know it."""
    if value is None:
        return None
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"unknown locale {value!r} (e.g. 'es', 'de', 'fr', 'pt_BR')") from None
    return value


HEADER_ZONE = "header"  # timezone = "header": the zone is written in each column's header


def zone_in_header(header: str, column: str) -> str:
    """The IANA zone an export writes in a column's header, as Intercom does:
    'Conversation started at (America/New_York)'. A DataError when there is none."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from ..errors import DataError

    found = re.search(r"\(([A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*)\)\s*$", header or "")
    if found:
        try:
            ZoneInfo(found.group(1))
            return found.group(1)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise DataError(f"timezone = \"header\": the header of {column} ({header!r}) names no time zone in brackets",
                    hint="set timezone to the export's zone instead")


@dataclass(frozen=True)
class DateRule:
    """How one source writes its dates."""

    patterns: tuple[str, ...] = ()  # strptime patterns tried in order after ISO 8601, or one special
    timezone: str | None = None  # the zone of offset-less values; None: the report zone
    locale: str | None = None  # month and day names in this language

    @classmethod
    def of(cls, date_format=None, timezone: str | None = None, locale: str | None = None) -> "DateRule":
        return cls(check_date_format(date_format), timezone, check_locale(locale))

    @property
    def special(self) -> str | None:
        return self.patterns[0] if len(self.patterns) == 1 and self.patterns[0] in SPECIAL_FORMATS else None

    def expectation(self, column: str, with_time: bool) -> str:
        """The rejected cell's reason: what was expected, naming the patterns."""
        if self.special == "excel":
            return f"{column} must be an Excel date (a serial day number) or an ISO 8601 date"
        if self.special:
            unit = "milliseconds" if self.special == "epoch_ms" else "seconds"
            return f"{column} must be a number of {unit} since 1970-01-01 UTC (date_format = {self.special!r})"
        if self.patterns:
            shown = " or ".join(repr(p) for p in self.patterns)
            return f"{column} must be a date as {shown} (date_format) or ISO 8601"
        return (f"{column} must be an ISO 8601 date{' or datetime' if with_time else ''} "
                "(e.g. 2026-10-31); set date_format in config for other forms")


def parse_timestamps(values: pd.Series, report_zone: str, rule: DateRule = DateRule()
                     ) -> tuple[pd.Series, pd.Series | None]:
    """Text cells to naive report-zone datetimes (NaT where nothing matches; blank cells are NaT).

    A value with an offset (or `epoch`, which is UTC) is converted to the report zone;
    one without is taken to be in ``rule.timezone`` (default: the report zone) and
    converted from there. Returns the datetimes and, when naive and offset values are
    mixed, which had an offset (None when all are alike).
    """
    text = _arrow_text(values)
    source_zone = rule.timezone or report_zone
    if rule.special:
        return _wall_clock(_special(text, rule.special, source_zone), report_zone, values.index), None
    if not rule.patterns:  # ISO 8601 only: a clean export's whole column in one cast
        # (not tried first when patterns are named: a cast that fails costs more than a parse)
        naive = _cast(text, pa.timestamp("ns"))
        if naive is not None:
            return _wall_clock(_localize(_as_numpy(naive), source_zone), report_zone, values.index), None
        aware = _cast(text, pa.timestamp("ns", "UTC"))
        if aware is not None:
            return _wall_clock(_as_numpy(aware), report_zone, values.index), None

    # Each pattern through Arrow's kernel first (a cell it reads means what the user who named
    # the pattern means); what none reads is tried as ISO 8601, then through pandas' strptime,
    # which knows the directives Arrow lacks (%f, %Z). Cells are only ever read once.
    present = pc.is_valid(text).to_numpy(zero_copy_only=False)
    instants = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
    offset = np.zeros(len(text), dtype=bool)
    patterns = with_times(rule.patterns)
    named = translate_names(text, rule.locale, patterns) if patterns and rule.locale else text
    for pattern in patterns:
        _fill(instants, offset, named, present, pattern, partial(_arrow_strptime, pattern=pattern), source_zone)
    missing = np.isnat(instants) & present
    if missing.any():
        cells = pc.filter(text, pa.array(missing))
        with_offset = _has_offset(cells)
        instants[missing] = _iso_cells(cells, with_offset, source_zone)
        offset[missing] = with_offset
    for pattern in patterns:
        _fill(instants, offset, named, present, pattern, partial(_pandas_strptime, pattern=pattern), source_zone)
    kinds = offset[present]
    mixed = pd.Series(offset, index=values.index) if kinds.any() and not kinds.all() else None
    return _wall_clock(instants, report_zone, values.index), mixed


def _fill(instants: np.ndarray, offset: np.ndarray, text: pa.Array, present: np.ndarray, pattern: str,
          read, source_zone: str) -> None:
    """The cells still without a time, as ``read`` parses them with ``pattern``."""
    missing = np.isnat(instants) & present
    if not missing.any():
        return
    found = read(text if missing.all() else pc.filter(text, pa.array(missing)))
    if "%z" in pattern:
        offset[missing] = ~np.isnat(found)
    else:  # wall-clock times of the source's zone
        found = _localize(found, source_zone)
    instants[missing] = found


def _arrow_strptime(cells: pa.Array, pattern: str) -> np.ndarray:
    """Arrow's C++ strptime (UTC instants for %z, else wall clock); NaT where it does not match,
    and where it read an impossible date as a later one (see `suspect_days`)."""
    try:
        parsed = _as_numpy(pc.strptime(cells, format=pattern, unit="ns", error_is_null=True))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a directive it lacks
        return np.full(len(cells), np.datetime64("NaT"), dtype="datetime64[ns]")
    check = suspect_days(parsed, aware="%z" in pattern)
    if check.any():
        wrong = _rolled_over(pc.filter(cells, pa.array(check)), parsed[check], pattern)
        parsed[np.flatnonzero(check)[wrong]] = np.datetime64("NaT")
    return parsed


def _rolled_over(cells: pa.Array, parsed: np.ndarray, pattern: str) -> np.ndarray:
    """Which of ``parsed`` are not the day written in ``cells``: Arrow rolled an impossible
    date over. The written day is taken with the regular expression Python's own strptime
    builds for the pattern (RE2 runs it, vectorised); a pattern without %d is checked by
    pandas' strptime, which refuses impossible dates."""
    import _strptime

    if "%d" not in pattern or "%z" in pattern:
        strict = _pandas_strptime(cells, pattern)
        return strict != parsed  # NaT never equals: refused there, so refused here
    regex = "(?i)^" + _strptime._TimeRE_cache.pattern(pattern) + "$"
    written = pc.extract_regex(cells, regex).field("d")
    day = pc.cast(pc.if_else(pc.equal(written, ""), None, pc.utf8_trim_whitespace(written)), pa.int64())
    read = (parsed - parsed.astype("datetime64[M]")).astype("timedelta64[D]").astype(np.int64) + 1
    return ~pc.fill_null(pc.equal(day, pa.array(read)), False).to_numpy(zero_copy_only=False)


def suspect_days(parsed: np.ndarray, aware: bool = False) -> np.ndarray:
    """Which parsed values may be an impossible date rolled over. Arrow's strptime reads
    "31/09/2026" as October 1 and "29/02/2026" as March 1 instead of refusing them, so a
    value on the 1st-3rd of a month may be one; with an offset the written day may differ
    from the instant's by one, so the last days of a month are suspect too."""
    day = (parsed - parsed.astype("datetime64[M]")).astype("timedelta64[D]").astype(np.int64) + 1
    suspect = day <= (4 if aware else 3)
    if aware:
        suspect |= day >= 28
    return suspect & ~np.isnat(parsed)


def _pandas_strptime(cells: pa.Array, pattern: str) -> np.ndarray:
    """pandas' strptime, for what Arrow's could not read; the same result types."""
    aware = "%z" in pattern
    parsed = pd.to_datetime(pd.Series(cells.to_pandas(), dtype=object), format=pattern, errors="coerce", utc=aware)
    if aware:
        parsed = parsed.dt.tz_localize(None)
    return parsed.to_numpy(dtype="datetime64[ns]")


def _arrow_text(values: pd.Series) -> pa.Array:
    """The cells as Arrow text, blank (or only spaces) as null."""
    array = pa.array(values, type=pa.large_string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    trimmed = pc.utf8_trim_whitespace(array)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.large_string()), trimmed)


def _cast(text: pa.Array, to: pa.DataType) -> pa.Array | None:
    try:
        return pc.cast(text, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _as_numpy(stamps: pa.Array) -> np.ndarray:
    """Arrow timestamps (a zone's are UTC underneath) as datetime64[ns], NaT for null."""
    return stamps.cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False).astype("datetime64[ns]")


def _has_offset(text: pa.Array) -> np.ndarray:
    # OFFSET_RE: a time then Z or +hh:mm (the "-31" of a date is no offset)
    return pc.fill_null(pc.match_substring_regex(text, OFFSET_RE.pattern), False).to_numpy(zero_copy_only=False)


def _iso_cells(text: pa.Array, offset: np.ndarray, source_zone: str) -> np.ndarray:
    """ISO 8601 cells as UTC instants (offset-less ones read in ``source_zone``), NaT elsewhere."""
    cells = pd.Series(text.to_pandas(), dtype=object)
    aware = pd.to_datetime(cells.where(offset), format="ISO8601", errors="coerce", utc=True)
    try:
        naive = pd.to_datetime(cells.where(~offset), format="ISO8601", errors="coerce")
    except ValueError:  # offsets the rule above does not see (a date with one): none is naive
        naive = pd.Series(pd.NaT, index=cells.index, dtype="datetime64[ns]")
    if getattr(naive.dt, "tz", None) is not None:  # pandas read an offset after all: not naive
        naive = pd.Series(pd.NaT, index=cells.index, dtype="datetime64[ns]")
    instants = _localize(naive.to_numpy(dtype="datetime64[ns]"), source_zone)
    from_aware = aware.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return np.where(offset, from_aware, instants)


def _localize(naive: np.ndarray, zone: str) -> np.ndarray:
    """Wall-clock times in ``zone`` as UTC instants. A time that a clock change skips
    moves forward; one it repeats is read as the first (summer-time) instant."""
    if zone == "UTC" or not len(naive):
        return naive
    series = pd.Series(naive).dt.tz_localize(zone, ambiguous=np.ones(len(naive), dtype=bool),
                                             nonexistent="shift_forward")
    return series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")


def _wall_clock(instants: np.ndarray, zone: str, index: pd.Index) -> pd.Series:
    """UTC instants as naive wall-clock times in ``zone`` (DATA_CONTRACT §1)."""
    local = pa.array(instants, type=pa.timestamp("ns")).cast(pa.timestamp("ns", "UTC")).cast(
        pa.timestamp("ns", zone))
    local = local.cast(pa.timestamp("ns")) if zone == "UTC" else pc.local_timestamp(local)
    return pd.Series(local.to_numpy(zero_copy_only=False), index=index).astype("datetime64[ns]")


def _special(text: pa.Array, special: str, source_zone: str) -> np.ndarray:
    numbers = pd.to_numeric(pd.Series(text.to_pandas(), dtype=object), errors="coerce").astype("float64")
    if special == "excel":
        days = numbers.where((numbers > 0) & (numbers < 2_958_466))  # up to 9999-12-31
        naive = (_EXCEL_EPOCH + pd.to_timedelta((days * 86_400_000).round(), unit="ms")).to_numpy(
            dtype="datetime64[ns]")
        instants = _localize(naive, source_zone)
        # A workbook's date cells come as ISO 8601 beside serial numbers: both are read.
        iso_like = pc.fill_null(pc.match_substring_regex(text, r"^\d{4}-\d{2}-\d{2}"), False)
        rest = np.isnat(instants) & iso_like.to_numpy(zero_copy_only=False)
        if rest.any():
            cells = pc.filter(text, pa.array(rest))
            instants[rest] = _iso_cells(cells, _has_offset(cells), source_zone)
        return instants
    scale = 1_000 if special == "epoch_ms" else 1
    stamps = pd.to_datetime((numbers / scale * 1e6).round(), unit="us", errors="coerce")
    return stamps.where((stamps >= _EARLIEST) & (stamps < _LATEST)).to_numpy(dtype="datetime64[ns]")


def translate_names(text: pa.Array, locale: str, patterns: list[str] | tuple[str, ...] = ("%b", "%a")) -> pa.Array:
    """Month names of ``locale`` (and day names, where a pattern has %a or %A), wide or
    abbreviated, with or without the abbreviation's dot, any case, replaced by the English
    abbreviations strptime reads."""
    joined = " ".join(patterns)
    months = "%b" in joined or "%B" in joined
    days = "%a" in joined or "%A" in joined
    marked = []
    for kind, pattern, mark, english in _name_patterns(locale):
        if (kind == "month" and months) or (kind == "day" and days):
            text = pc.replace_substring_regex(text, pattern, rf"\1{mark}\2")
            marked.append((mark, english))
    # Marks first, English after: an English word written back must not be read again as
    # the locale's name of another month.
    for mark, english in marked:
        text = pc.replace_substring(text, mark, english)
    return text


@lru_cache(maxsize=16)
def _name_patterns(locale: str) -> tuple[tuple[str, str, str, str], ...]:
    from babel.dates import get_day_names, get_month_names

    name = locale.replace("-", "_")

    def forms(getter, key):
        names = {getter(width, context=context, locale=name)[key]
                 for width in ("wide", "abbreviated") for context in ("format", "stand-alone")}
        return {n.rstrip(".").lower() for n in names}

    month_names = [forms(get_month_names, m + 1) for m in range(12)]
    every_month = set().union(*month_names)
    # A day name that is also a month's ("mar": martes and marzo) is left to the month.
    day_names = [forms(get_day_names, d) - every_month for d in range(7)]
    out = []
    for kind, groups, english in (("month", month_names, _ENGLISH_MONTHS), ("day", day_names, _ENGLISH_DAYS)):
        for i, names in enumerate(groups):
            if not names:
                continue
            alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
            # Letters on either side mean another word ("mar" in "martes"); RE2 has no
            # look-behind, so the neighbours are captured and written back.
            pattern = rf"(?i)(^|[^\p{{L}}])(?:{alternatives})\.?($|[^\p{{L}}])"
            out.append((kind, pattern, f"\x01{kind[0]}{i:02d}\x02", english[i]))
    return tuple(out)


def parse_typed_column(column: pa.ChunkedArray, patterns: tuple[str, ...], target: pa.DataType
                       ) -> pa.ChunkedArray | None:
    """A date column the typed read took as text, parsed with the source's ``patterns`` and
    then ISO 8601, chunk by chunk on both cores: the typed read's own timestamps, but with
    the cell text at hand to refuse an impossible date Arrow's strptime rolls over. None
    when any cell is not read exactly: the text path then names it."""
    from concurrent.futures import ThreadPoolExecutor

    aware = pa.types.is_timestamp(target) and target.tz is not None

    def one(chunk: pa.Array) -> pa.Array | None:
        present = chunk.is_valid().to_numpy(zero_copy_only=False)
        out = np.full(len(chunk), np.datetime64("NaT"), dtype="datetime64[ns]")
        for pattern in patterns:
            missing = np.isnat(out) & present
            if not missing.any():
                break
            cells = chunk if missing.all() else pc.filter(chunk, pa.array(missing))
            if ("%z" in pattern) != aware:
                continue
            out[missing] = _arrow_strptime(cells, pattern)
        missing = np.isnat(out) & present
        if missing.any():  # ISO 8601 after the patterns, as the text path reads it
            cells = pc.filter(chunk, pa.array(missing))
            iso = _cast(cells, pa.timestamp("ns", "UTC") if aware else pa.timestamp("ns"))
            if iso is None:
                return None
            out[missing] = _as_numpy(iso)
        result = pa.array(out, type=pa.timestamp("ns"), from_pandas=True)
        return result.cast(target) if aware else result

    chunks = column.chunks
    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow's kernels release the GIL
        parsed = list(pool.map(one, chunks))
    if any(p is None for p in parsed):
        return None
    return pa.chunked_array(parsed, type=target)
