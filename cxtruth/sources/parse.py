"""Vectorised converters from text cells to typed values.

Each returns the converted Series and leaves invalid cells as NaN/NaT/NA;
the caller decides which of those are errors (blank vs. malformed).
Timestamps come back as naive wall-clock times in the report time zone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .csvplan import OFFSET_RE

_TRUE = ("true", "yes", "y", "1")
_FALSE = ("false", "no", "n", "0")


def _to_datetime(values: pd.Series, fmt: str, utc: bool) -> pd.Series:
    return pd.to_datetime(values, format=fmt, errors="coerce", utc=utc)


def has_offset(values: pd.Series) -> pd.Series:
    """Which timestamps carry a UTC offset (``Z``, ``+02:00``, ...)."""
    mask = pc.match_substring_regex(_arrow_text(values), OFFSET_RE.pattern)  # RE2, vectorised
    return pd.Series(mask.to_numpy(zero_copy_only=False), index=values.index).fillna(False).astype(bool)


def _arrow_text(values: pd.Series) -> pa.Array:
    """The cells as an Arrow string array ('' for blank becomes null); zero-copy for Arrow-backed text."""
    array = pa.array(values, type=pa.large_string(), from_pandas=True)
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.large_string()), array)


def _arrow_cast(values: pd.Series, to: pa.DataType) -> pa.Array | None:
    """Arrow's vectorised parse of every non-blank cell, or None if any cell does not parse."""
    try:
        return pc.cast(_arrow_text(values), to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _series(array: pa.Array, index: pd.Index, dtype: str) -> pd.Series:
    return pd.Series(array.to_pandas(), index=index).astype(dtype)


def parse_datetimes(values: pd.Series, timezone: str,
                    date_format: str | None = None) -> tuple[pd.Series, pd.Series | None]:
    """ISO 8601 (or ``date_format``) text to naive report-zone datetimes.

    A value with an offset is converted to ``timezone``; a naive value or a
    plain date is taken as already in it (DATA_CONTRACT.md §1).
    Returns the datetimes and, when naive and offset values are mixed, which
    had an offset (None when all are alike).

    Fast path: a column that is all naive or all offset ISO 8601 (the usual
    export) is parsed by Arrow in one vectorised cast; anything else takes
    the per-format path below, which also finds the bad cells.
    """
    naive = _arrow_cast(values, pa.timestamp("ns"))
    if naive is not None:
        return _series(naive, values.index, "datetime64[ns]"), None
    aware = _arrow_cast(values, pa.timestamp("ns", "UTC"))
    if aware is not None:
        local = pc.local_timestamp(aware.cast(pa.timestamp("ns", timezone)))
        return _series(local, values.index, "datetime64[ns]"), None

    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    offset_mask = has_offset(values)
    naive = values[~offset_mask]
    if len(naive):
        # With a configured day format, a time of day after it and ISO 8601
        # (never ambiguous) are accepted too.
        formats = [date_format, f"{date_format} %H:%M", f"{date_format} %H:%M:%S"] if date_format else []
        parsed = _to_datetime(naive, "ISO8601", utc=False)
        for fmt in formats:
            if not parsed.isna().any():
                break
            missing = parsed.isna()
            parsed = parsed.fillna(_to_datetime(naive[missing], fmt, utc=False))
        out.loc[naive.index] = parsed.astype("datetime64[ns]")
    offset = values[offset_mask]
    if len(offset):
        parsed = _to_datetime(offset, "ISO8601", utc=True)
        if date_format and parsed.isna().any():
            retry = _to_datetime(offset[parsed.isna()], date_format, utc=True)
            parsed = parsed.fillna(retry)
        local = parsed.dt.tz_convert(timezone).dt.tz_localize(None)
        out.loc[offset.index] = local.astype("datetime64[ns]")
    kinds = offset_mask[values != ""]
    mixed = offset_mask if kinds.any() and not kinds.all() else None
    return out, mixed


def parse_numbers(values: pd.Series, decimal: str = ".") -> pd.Series:
    """Text to float; NaN for anything that is not a finite plain number."""
    if decimal == ".":
        fast = _arrow_cast(values, pa.float64())  # plain numbers, e.g. 1200 or 99.5 or 1e3
        if fast is not None:
            numbers = _series(fast, values.index, "float64")
            return numbers.where(np.isfinite(numbers))
    text = values
    if decimal == ",":
        # In a comma-decimal file a '.' is a thousands mark or a mistake: refuse it.
        text = text.where(~text.str.contains(".", regex=False), "x").str.replace(",", ".", regex=False)
    else:
        text = text.where(~text.str.contains(",", regex=False), "x")
    numbers = pd.to_numeric(text.where(text.str.strip().str.lower() != "nan", "x"), errors="coerce")
    numbers = numbers.astype("float64")
    return numbers.where(np.isfinite(numbers))


def parse_integers(values: pd.Series, decimal: str = ".") -> pd.Series:
    """Text to whole numbers (``9.0`` is 9, ``9.5`` is invalid); float with NaN for invalid."""
    fast = _arrow_cast(values, pa.int64())
    if fast is not None:
        return _series(fast, values.index, "float64")
    numbers = parse_numbers(values, decimal)
    return numbers.where(numbers == np.round(numbers))


def parse_booleans(values: pd.Series) -> pd.Series:
    """true/false, yes/no, y/n, 1/0 in any case; NA for blank or anything else."""
    lowered = values.str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[lowered.isin(_TRUE)] = True
    out[lowered.isin(_FALSE)] = False
    return out
