"""config.toml: unknown keys and wrong types name the key; resolution order."""

import pytest

from cxtruth.config import Config, find_config
from cxtruth.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, message", [
    ('[report]\ncolour = "red"\n', "report.colour: unknown key"),
    ('[metrics.nps]\ntarget = "forty"\n', "metrics.nps.target: Input should be a valid number"),
    ('[report]\ntimezone = "Mars/Olympus"\n', "report.timezone: unknown IANA time zone 'Mars/Olympus'"),
    ('[metrics.nps]\ntarget = 40\nwarn = 50\n', "metrics.nps: warn (50) must be <= target (40)"),
    ('[metrics.closure_time]\ntarget = 7\nwarn = 3\n', "metrics.closure_time: warn (3) must be >= target (7)"),
    ('[metrics.nps]\nowner = "Finance"\n', "metrics.nps.owner: 'Finance' is not one of [report] functions"),
    ('[sources.nps.columns]\nrating = "Score"\n', "sources.nps.columns.rating: not a column of nps"),
    ('[sources.nps]\nencoding = "klingon"\n', "sources.nps.encoding: unknown encoding 'klingon'"),
    ('[report\n', "not valid TOML"),
])
def test_invalid_config_names_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        Config.from_file(write(tmp_path, text))
    assert message in str(info.value)


def test_partial_metric_table_keeps_defaults(tmp_path):
    config = Config.from_file(write(tmp_path, "[metrics.nps]\ntarget = 50\n"))
    assert config.metrics.nps.target == 50
    assert config.metrics.nps.owner == "CX Leadership"
    assert config.metrics.nps.warn == 25


def test_paths_are_relative_to_the_config_file(tmp_path):
    config = Config.from_file(write(tmp_path, '[data]\ndir = "exports"\n[report]\noutput_dir = "out"\n'))
    assert config.source_path("nps") == (tmp_path / "exports" / "nps.csv", False)
    assert config.output_dir == tmp_path / "out"


def test_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv("CXTRUTH_CONFIG", str(tmp_path / "env.toml"))
    assert find_config(tmp_path / "flag.toml") == tmp_path / "flag.toml"
    assert find_config(None) == tmp_path / "env.toml"
    monkeypatch.delenv("CXTRUTH_CONFIG")
    assert str(find_config(None)) == "config.toml"


def test_config_error_through_cli(tmp_path, run):
    path = write(tmp_path, "[report]\nmeeting_minutes = 5\n")
    result = run("metrics", "--month", "2026-10", "--config", path)
    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: {path}: report.meeting_minutes: Input should be greater than or equal to 15")
    assert "Traceback" not in result.output


def test_missing_config_file(tmp_path, run):
    result = run("validate", "--config", tmp_path / "nope.toml")
    assert result.exit_code == 3
    assert "Error: config file not found" in result.stderr


def test_user_set_path_that_does_not_exist_is_an_error(tmp_path, run):
    path = write(tmp_path, '[sources.nps]\npath = "exports/delighted.csv"\n')
    result = run("metrics", "--month", "2026-10", "--config", path)
    assert result.exit_code == 4
    assert "sources.nps.path: file not found" in result.stderr
