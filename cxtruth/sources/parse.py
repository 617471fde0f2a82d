"""Vectorised converters from text cells to typed values.

Each returns the converted Series and leaves invalid cells as NaN/NA; the
caller decides which of those are errors (blank vs. malformed). Dates and
times are `cxtruth.sources.dates`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_TRUE = ("true", "yes", "y", "1")
_FALSE = ("false", "no", "n", "0")


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


def parse_numbers(values: pd.Series, decimal: str = ".", thousands: str | None = None) -> pd.Series:
    """Text to float; NaN for anything that is not a finite plain number. With ``thousands``,
    a number grouped by it in threes ("4,000.00") is read without the marks; a mark
    anywhere else still makes the cell invalid."""
    if thousands:
        grouped = values.str.fullmatch(rf"\s*-?\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+(?:{re.escape(decimal)}\d+)?\s*",
                                       na=False)
        if grouped.any():
            values = values.where(~grouped, values.str.replace(thousands, "", regex=False))
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


def parse_integers(values: pd.Series, decimal: str = ".", thousands: str | None = None) -> pd.Series:
    """Text to whole numbers (``9.0`` is 9, ``9.5`` is invalid); float with NaN for invalid."""
    fast = _arrow_cast(values, pa.int64())
    if fast is not None:
        return _series(fast, values.index, "float64")
    numbers = parse_numbers(values, decimal, thousands)
    return numbers.where(numbers == np.round(numbers))


def parse_booleans(values: pd.Series) -> pd.Series:
    """true/false, yes/no, y/n, 1/0 in any case; NA for blank or anything else."""
    lowered = values.str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[lowered.isin(_TRUE)] = True
    out[lowered.isin(_FALSE)] = False
    return out
