"""Event exports as JSON lines: Mixpanel's raw export and Amplitude's zip of gzipped files."""

import gzip
import zipfile

import pytest

from conftest import DATA
from cxtruth.errors import DataError
from cxtruth.sources.jsonlines import is_json_lines, read_objects
from cxtruth.sources.rows import RowOptions, read_rows

PRESETS = DATA / "presets"
WANT = {"feature": ("event_type", True), "used_at": ("event_time", True),
        "account_id": ("user_properties.account_id", True)}


def test_nested_properties_become_dotted_names_and_lines_are_the_files():
    names, rows, lines = read_objects(PRESETS / "mixpanel" / "export.jsonl")
    assert {"event", "properties.time", "properties.company_id"} <= set(names)
    assert rows[0]["properties.time"] == "1789466400" and lines[:3] == [1, 2, 3]


def test_amplitudes_zip_of_gzipped_lines_reads_like_the_plain_file():
    zipped = read_rows(PRESETS / "amplitude" / "export.zip", "json", RowOptions(), WANT, "adoption").raw
    plain = read_rows(PRESETS / "amplitude" / "export.jsonl", "json", RowOptions(), WANT, "adoption").raw
    assert zipped.frame.equals(plain.frame) and len(zipped.frame) > 0
    assert is_json_lines(PRESETS / "amplitude" / "export.zip")


def test_a_broken_line_is_named(tmp_path):
    path = tmp_path / "events.jsonl.gz"
    with gzip.open(path, "wt") as out:
        out.write('{"event_type": "a", "event_time": "2026-10-01 00:00:00"}\n\n{"event_type": "b",\n')
    with pytest.raises(DataError, match=r"events.jsonl.gz: line 3: not a JSON object"):
        read_objects(path)
    member = tmp_path / "export.zip"
    with zipfile.ZipFile(member, "w") as archive:
        archive.writestr("1/a.json", '["not", "an object"]\n')
    with pytest.raises(DataError, match=r"export.zip: line 1 of 1/a.json: expected one JSON object per line, found list"):
        read_objects(member)


def test_a_missing_property_names_what_was_found():
    with pytest.raises(DataError, match=r"export.jsonl: required column missing: properties.org \(for account_id\); "
                                        r"found: event, properties.time"):
        read_rows(PRESETS / "mixpanel" / "export.jsonl", "json", RowOptions(),
                  {"account_id": ("properties.org", True)}, "adoption")
