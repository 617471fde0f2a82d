"""Property-based tests of the adapters (hypothesis).

- Any valid rows, written as a CSV file the way a spreadsheet or Python's csv
  module writes them, are read back into the metric values the contract's
  formulas give for those rows.
- Any text in a comment field is read back exactly (text that is only
  whitespace counts as no comment; docs/decisions.md).
"""

import csv
import io
import math
from datetime import date, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from cxtruth.config import Config
from cxtruth.metrics import MetricInputs, compute_month
from cxtruth.months import Month
from cxtruth.sources import read_source

OCTOBER = Month(2026, 10)
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Everything Unicode can carry in UTF-8: surrogates cannot be encoded, so they cannot be in a file.
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)


def write_csv(path, header, rows, delimiter=","):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def config_for(folder, extra=""):
    path = folder / "config.toml"
    path.write_text(f'[report]\ntimezone = "UTC"\n{extra}\n[data]\ndir = "."\n', encoding="utf-8")
    return Config.from_file(path)


def metrics_from(folder, config):
    frames = {name: read_source(name, config).frame for name in ("nps", "accounts")}
    return compute_month(MetricInputs.from_frames(config, frames), OCTOBER)


nps_row = st.tuples(
    st.datetimes(min_value=datetime(2026, 9, 1), max_value=datetime(2026, 11, 30, 23, 59, 59)),
    st.integers(0, 10),
    st.sampled_from(["9", "9.0", " 9 "]),  # how the score is written
    any_text,
)


@SETTINGS
@given(rows=st.lists(nps_row, max_size=40), semicolons=st.booleans())
def test_valid_nps_rows_round_trip_to_the_contract_formula(tmp_path_factory, rows, semicolons):
    folder = tmp_path_factory.mktemp("nps")
    written = []
    for i, (when, score, form, comment) in enumerate(rows):
        cell = form.replace("9", str(score)) if score != 9 or form == "9" else form
        cell = cell.replace(".", ",") if semicolons else cell
        written.append((f"r{i}", when.isoformat(sep=" "), cell, comment))
    write_csv(folder / "nps.csv", ["response_id", "responded_at", "score", "comment"], written,
              delimiter=";" if semicolons else ",")
    config = config_for(folder, "" if not semicolons else '[sources.nps]\ndelimiter = ";"\ndecimal = ","\n')

    in_month = [score for when, score, _, _ in rows if OCTOBER.start <= when < OCTOBER.end]
    nps = metrics_from(folder, config)["nps"]
    if not in_month:
        assert nps["value"] is None
        return
    promoters = sum(s >= 9 for s in in_month)
    detractors = sum(s <= 6 for s in in_month)
    assert (nps["n"], nps["promoters"], nps["detractors"]) == (len(in_month), promoters, detractors)
    assert math.isclose(nps["value"], 100 * (promoters - detractors) / len(in_month), abs_tol=1e-9)


account = st.tuples(
    st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)),
    st.one_of(st.none(), st.integers(0, 700)),  # days until churn
    st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False).map(lambda x: round(x, 2))),
)


@SETTINGS
@given(accounts=st.lists(account, max_size=40))
def test_valid_accounts_round_trip_to_the_churn_formulas(tmp_path_factory, accounts):
    folder = tmp_path_factory.mktemp("accounts")
    rows = [(f"A{i}", start.isoformat(),
             "" if days is None else (start + timedelta(days=days)).isoformat(),
             "" if mrr is None else repr(mrr))
            for i, (start, days, mrr) in enumerate(accounts)]
    write_csv(folder / "accounts.csv", ["account_id", "start_date", "churn_date", "mrr"], rows)
    metrics = metrics_from(folder, config_for(folder))

    first, last = date(2026, 10, 1), date(2026, 11, 1)
    base = [(start, None if days is None else start + timedelta(days=days), mrr or 0.0)
            for start, days, mrr in accounts
            if start < first and (days is None or start + timedelta(days=days) >= first)]
    churned = [a for a in base if a[1] is not None and first <= a[1] < last]
    logo = metrics["logo_churn"]
    assert (logo["base"], logo["churned"]) == (len(base), len(churned))
    if base:
        assert math.isclose(logo["value"], 100 * len(churned) / len(base))
    else:
        assert logo["value"] is None
    base_mrr, churned_mrr = sum(a[2] for a in base), sum(a[2] for a in churned)
    revenue = metrics["revenue_churn"]
    assert math.isclose(revenue["base_mrr"], base_mrr, rel_tol=1e-12, abs_tol=1e-6)
    if base_mrr:
        assert math.isclose(revenue["value"], 100 * churned_mrr / base_mrr, rel_tol=1e-9, abs_tol=1e-9)
    else:
        assert revenue["value"] is None


adoption_account = st.tuples(
    st.sampled_from(["", "ENT", "SMB", "Mid"]),  # segment ("" = none)
    st.booleans(),  # started before October (else in November: not active)
    st.lists(st.integers(0, 19), max_size=6),  # features used in October, as indexes
)


@SETTINGS
@given(accounts=st.lists(adoption_account, max_size=30), n_features=st.integers(1, 20))
def test_feature_adoption_per_segment_follows_the_formula(tmp_path_factory, accounts, n_features):
    # Up to 20 features: counts are taken eight features at a time, so 8, 9, 16 and 17 matter.
    folder = tmp_path_factory.mktemp("adoption")
    features = [f"f{i}" for i in range(n_features)]
    write_csv(folder / "accounts.csv", ["account_id", "segment", "start_date"],
              [(f"A{i}", segment, "2026-01-01" if early else "2026-11-02")
               for i, (segment, early, _) in enumerate(accounts)])
    events = [(f"A{i}", features[f % n_features], f"2026-10-{1 + f:02d} 12:00:00")
              for i, (_, _, used) in enumerate(accounts) for f in used]
    write_csv(folder / "adoption.csv", ["account_id", "feature", "used_at"], events)
    config = config_for(folder, "[metrics.feature_adoption]\nfeatures = [" + ", ".join(f'"{f}"' for f in features) + "]\n")
    frames = {name: read_source(name, config).frame for name in ("accounts", "adoption")}
    adoption = compute_month(MetricInputs.from_frames(config, frames), OCTOBER)["feature_adoption"]

    def formula(members):
        if not members:
            return None, {}
        per = {f: 100 * sum(any(u % n_features == k for u in accounts[i][2]) for i in members) / len(members)
               for k, f in enumerate(features)}
        return sum(per.values()) / len(per), per

    if not events:  # a month without any usage event: no number (decision 77)
        assert (adoption["value"], adoption["active_accounts"], adoption["per_feature"]) == (None, None, {})
        return
    active = [i for i, (_, early, _) in enumerate(accounts) if early]
    value, per_feature = formula(active)
    assert adoption["active_accounts"] == len(active)
    assert adoption["per_feature"] == pytest.approx(per_feature)
    assert adoption["value"] == (None if value is None else pytest.approx(value))
    expected_segments = {}
    for segment in sorted({accounts[i][0] for i in active} - {""}):
        members = [i for i in active if accounts[i][0] == segment]
        expected_segments[segment] = {"value": pytest.approx(formula(members)[0]), "n": len(members)}
    assert adoption["segments"] == expected_segments


@SETTINGS
@given(comments=st.lists(any_text, min_size=1, max_size=8), encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_any_comment_text_is_read_back_exactly(tmp_path_factory, comments, encoding):
    folder = tmp_path_factory.mktemp("comments")
    buffer = io.StringIO(newline="")
    # "\r\n" as spreadsheets write it; the csv module then quotes any cell holding a CR or LF
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["response_id", "responded_at", "score", "comment"])
    writer.writerows((f"r{i}", "2026-10-01", 9, c) for i, c in enumerate(comments))
    (folder / "nps.csv").write_bytes(buffer.getvalue().encode(encoding))
    extra = '[sources.nps]\nencoding = "utf-16"\n' if encoding == "utf-16" else ""
    frame = read_source("nps", config_for(folder, extra)).frame
    read_back = [None if pd.isna(value) else value for value in frame["comment"]]
    assert read_back == [c if c.strip() else None for c in comments]


# -- fast-path helpers: each must behave exactly like the plain operation it replaces --

# Strings built from the characters that matter: spaces of every kind at either end.
SPACES = [" ", "\t", "\n", "\r", "\v", "\f", "\u0085", "\u00a0", "\u1680", "\u2000", "\u2028", "\u3000"]
edge_text = st.text(st.sampled_from(["a", "é", "x"] + SPACES), max_size=6)


@SETTINGS
@given(values=st.lists(st.one_of(st.none(), edge_text), max_size=30), start=st.integers(0, 5), stop=st.integers(0, 5))
def test_trim_check_never_misses_a_value_that_trimming_changes(values, start, stop):
    import pyarrow as pa
    import pyarrow.compute as pc

    from cxtruth.sources import _may_need_trim, _trimmed

    array = pa.array(values, type=pa.large_string())
    chunk = array.slice(min(start, len(array)), max(len(array) - start - stop, 0))  # offsets into a shared buffer
    # one by one: in a list, another value's spaces could hide a miss; and every space at either end
    singles = [c + "x" for c in SPACES] + ["x" + c for c in SPACES]
    for value in chunk.to_pylist() + singles:
        if pc.utf8_trim_whitespace(pa.array([value], type=pa.large_string())).to_pylist() != [value]:
            for where in ([value], ["a", value, "b"]):  # alone, and between neighbours without spaces
                assert _may_need_trim(pa.array(where, type=pa.large_string())), repr(where)
    assert _trimmed(pa.chunked_array([chunk], type=chunk.type)).to_pylist() == \
        pc.utf8_trim_whitespace(chunk).to_pylist()


@SETTINGS
@given(count=st.integers(0, 50), first=st.integers(1, 3), data=st.data())
def test_consecutive_lines_index_like_the_array_they_stand_for(count, first, data):
    import numpy as np

    from cxtruth.sources.reader import ConsecutiveLines

    lines, array = ConsecutiveLines(first, count), np.arange(first, first + count, dtype=np.int64)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=count, max_size=count)), dtype=bool)
    assert np.array_equal(lines[mask], array[mask])
    if count:
        picks = data.draw(st.lists(st.integers(-count, count - 1), max_size=10))
        assert np.array_equal(lines[np.array(picks, dtype=np.int64)], array[np.array(picks, dtype=np.int64)])
        assert lines[-1] == array[-1] and lines[0] == array[0]
    assert np.array_equal(lines[1:], array[1:]) and len(lines) == len(array)


# Ids of one width go through a 64-bit key made of their first and last words; the
# first two 20-character ones here share that key (they differ in byte 8 only).
_SHORT_IDS = ["a", "b", "c"]
_LONG_IDS = ["0123456789abcdef0123", "01234567_9abcdef0123", "0123456789abcdef012X"]
_ANY_IDS = st.one_of(st.none(), st.sampled_from(_SHORT_IDS + _LONG_IDS + ["ab", "zz", ""]))
_MIXED_IDS = ["7", "42", "104233", "12345678", "a", "a\0", "ab", "é"]


@SETTINGS
@given(values=st.lists(st.one_of(st.lists(st.sampled_from(_SHORT_IDS), max_size=15),
                                 st.lists(st.sampled_from(_MIXED_IDS + _LONG_IDS), max_size=15),
                                 st.lists(_ANY_IDS, max_size=15)), max_size=3),
       universe=st.lists(st.sampled_from(_MIXED_IDS + _SHORT_IDS + _LONG_IDS), unique=True, max_size=6))
def test_lookup_codes_are_positions_in_the_universe(values, universe):
    import pyarrow as pa

    from cxtruth.sources import lookup_codes

    flat = [v for chunk in values for v in chunk]
    expected = [universe.index(v) if v in universe else -1 for v in flat]
    # As the reader leaves them: one Arrow chunk per block read; and as a plain pandas column.
    chunked = pa.chunked_array(values, type=pa.large_string())
    for column in (chunked, pd.Series(flat, dtype=object)):
        codes = lookup_codes(column, universe)
        assert codes.tolist() == expected and codes.dtype == "int32"
    from cxtruth.sources import adapters

    saved, adapters.PARALLEL_LOOKUP = adapters.PARALLEL_LOOKUP, 0  # every lookup in two halves, on two threads
    try:
        assert lookup_codes(chunked, universe).tolist() == expected
    finally:
        adapters.PARALLEL_LOOKUP = saved


@SETTINGS
@given(values=st.lists(st.one_of(st.lists(st.sampled_from(_SHORT_IDS), max_size=4),  # chunks of one width
                                 st.lists(st.sampled_from(_LONG_IDS), min_size=1, max_size=4),
                                 st.lists(st.sampled_from(_MIXED_IDS + ["resp-1499999", "resp-14999990"]), max_size=4),
                                 st.lists(_ANY_IDS, max_size=4)), max_size=3))
@example(values=[["0123456789abcdef0123"], ["01234567_9abcdef0123", "0123456789abcdef0123"]])
@example(values=[["a", "42"], ["a\0", "7"]])
@example(values=[["resp-1499999", "resp-1", "resp-14999990"], ["0123456789abcdef", "resp-1499999"]])
def test_the_repeated_id_check_agrees_with_counting(values):
    import pyarrow as pa

    from cxtruth.sources.adapters import _all_distinct

    flat = [v for chunk in values for v in chunk]
    column = pa.chunked_array(values, type=pa.large_string())
    assert _all_distinct(column) == (None not in flat and len(set(flat)) == len(flat))


@SETTINGS
@given(chunks=st.lists(st.tuples(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", " e"])), max_size=12),
                                 st.integers(0, 4), st.integers(0, 4)), max_size=6))
def test_dictionary_columns_become_the_categorical_arrow_would_make(chunks):
    # Decision 41: codes are mapped chunk by chunk; sliced chunks, nulls and dictionary
    # values no row uses must give what Arrow's own conversion gives, order of categories included.
    import numpy as np
    import pyarrow as pa

    from cxtruth.sources.adapters import _categorical

    parts = []
    for words, head, tail in chunks:
        encoded = pa.array(words, type=pa.large_string()).dictionary_encode()
        parts.append(encoded.slice(min(head, len(encoded)), max(len(encoded) - head - tail, 0)))
    column = pa.chunked_array(parts, type=pa.dictionary(pa.int32(), pa.large_string()))
    expected = pa.table({"c": column}).to_pandas()["c"].array
    got = _categorical(column)
    assert list(got.categories) == list(expected.categories)
    assert np.array_equal(got.codes, expected.codes)
    assert got.codes.dtype == expected.codes.dtype


# Accounts' accepted ids are trimmed and never blank; the rows naming them may be neither.
_KNOWN = ["acc-1", "acc-22", "é", "x y", "0123456789abcdef0123"]
_NAMED = st.one_of(st.none(), st.sampled_from(_KNOWN + ["zz", "", "  ", " acc-1", "acc-22\u00a0", "\té", " zz "]))


@SETTINGS
@given(chunks=st.lists(st.lists(_NAMED, max_size=8), max_size=3), known=st.lists(st.sampled_from(_KNOWN), unique=True),
       source=st.sampled_from(["nps", "adoption"]))
@example(chunks=[["acc-1", "zz"]], known=["acc-1"], source="adoption")  # an unknown id, nothing to trim
@example(chunks=[["acc-1", " acc-1"]], known=["acc-1"], source="adoption")  # found only once trimmed
@example(chunks=[["acc-1", None, ""]], known=["acc-1"], source="nps")  # blanks where they are allowed
def test_account_ids_checked_by_the_lookup_as_accept_clean_checks_them(chunks, known, source):
    # An id the lookup finds is one of accounts' (trimmed, not blank), so only the
    # others are checked: the result must be what checking every id, then looking up, gives.
    import numpy as np
    import pyarrow as pa

    from cxtruth.schema import SOURCES
    from cxtruth.sources.adapters import accept_clean
    from cxtruth.sources import lookup_codes

    config = Config()
    table = pa.table({"account_id": pa.chunked_array(chunks, type=pa.large_string())})
    spec = SOURCES[source]
    plain = accept_clean(table, spec, config)
    looked_up = accept_clean(table, spec, config, pd.Series(known, dtype=object))
    assert (plain is None) == (looked_up is None)
    if plain is None:
        return
    assert plain[1] is None
    frame, codes = looked_up
    pd.testing.assert_frame_equal(frame, plain[0])
    expected = lookup_codes(plain[0]["account_id"], known) if known else np.full(len(frame), -1)
    assert codes.tolist() == expected.tolist()
