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


# -- issue 18: config values that passed validation and crashed later -----------------

EMAIL = '[email]\nhost = "localhost"\nsender = "cx@acme.example"\nto = ["ceo@acme.example"]\n'


from conftest import one_line as clean_error  # noqa: E402


@pytest.mark.parametrize("subject, message", [
    ("{company.name}", "email.subject: unknown placeholder '{company.name}'"),
    ("{company.__class__.__mro__}", "email.subject: unknown placeholder '{company.__class__.__mro__}'"),
    ("{title[0]}", "email.subject: unknown placeholder '{title[0]}'"),
    ("{company!r}", "email.subject: unknown placeholder '{company!r}'"),
    ("{company:2000000000}", "email.subject: unknown placeholder '{company:2000000000}'"),
    ("{company:>{title}}", "email.subject: unknown placeholder"),
    ("{0} {}", "email.subject: unknown placeholder '{0}'"),
    ("{month_labl}", "email.subject: unknown placeholder '{month_labl}'"),
    ("{company", "email.subject: expected '}' before end of string"),
    ("a } b", "email.subject: Single '}' encountered"),
])
def test_subject_placeholders_are_only_the_documented_names(tmp_path, run, subject, message):
    path = write(tmp_path, EMAIL + f"subject = '{subject}'\n")  # a TOML literal string: no escapes
    line = clean_error(run("validate", "--config", path), 3)
    assert line.startswith(f"Error: {path}: {message}")
    assert "<class" not in line and "mro" not in line.replace("__mro__}'", "")


@pytest.mark.parametrize("key, value", [
    ("[email]", "subject"), ("[report]", "title"), ("[report]", "company"), ("[email]", "sender"),
])
@pytest.mark.parametrize("separator", ["\\n", "\\r", "\\u000b", "\\f", "\\u001c", "\\u001d", "\\u001e",
                                       "\\u0085", "\\u2028", "\\u2029", "\\u0000"])
def test_every_line_separator_in_a_header_value_is_refused_at_load(tmp_path, run, key, value, separator):
    good = {"subject": "Report", "title": "Agenda", "company": "Acme", "sender": "cx@acme.example"}[value]
    bad = f'{value} = "{good}{separator}Bcc: spy@evil.example"\n'
    text = (EMAIL.replace(f'{value} = "cx@acme.example"\n', "") + bad if key == "[email]"
            else f"[report]\n{bad}" + EMAIL)
    path = write(tmp_path, text)
    line = clean_error(run("render", "--month", "2026-10", "--config", path, "--email"), 3)
    section = "email" if key == "[email]" else "report"
    assert line == (f"Error: {path}: {section}.{value}: must not contain line breaks "
                    "(or other line separators, or NUL characters)")
    assert not (tmp_path / "reports").exists()  # refused before anything was rendered


def test_a_line_separator_in_a_recipient_is_refused(tmp_path, run):
    path = write(tmp_path, EMAIL.replace('to = ["ceo@acme.example"]', 'to = ["ceo@acme.example\\u2028x@y.z"]'))
    assert "email.to: must not contain line breaks" in clean_error(run("validate", "--config", path), 3)


@pytest.mark.parametrize("encoding", ["rot13", "base64", "hex", "zlib", "bz2", "uu", "quopri"])
def test_only_text_encodings(tmp_path, run, encoding):
    path = write(tmp_path, f'[sources.nps]\nencoding = "{encoding}"\n')
    line = clean_error(run("validate", "--config", path), 3)
    assert line == f"Error: {path}: sources.nps.encoding: '{encoding}' is not a text encoding (e.g. 'utf-8', 'cp1252', 'utf-16')"


@pytest.mark.parametrize("text, message", [
    (EMAIL + "timeout_seconds = inf\n", "email.timeout_seconds: Input should be a finite number"),
    (EMAIL + "timeout_seconds = 1e308\n", "email.timeout_seconds: Input should be less than or equal to 600"),
    (EMAIL + "retry_for_seconds = nan\n", "email.retry_for_seconds: Input should be a finite number"),
    ("[report]\nrender_timeout_seconds = inf\n", "report.render_timeout_seconds: Input should be a finite number"),
    ("[report]\nrender_timeout_seconds = 1e308\n", "report.render_timeout_seconds: Input should be less than or equal to 86400"),
    ("[report]\nmax_staleness_days = inf\n", "report.max_staleness_days: Input should be a finite number"),
    ("[report]\nmax_staleness_days = 1e308\n", "report.max_staleness_days: Input should be less than or equal to 3660"),
    ("[sources.nps]\nmax_staleness_days = nan\n", "sources.nps.max_staleness_days: Input should be a finite number"),
    ("[metrics.nps]\ntarget = nan\n", "metrics.nps.target: Input should be a finite number"),
    ("[metrics.nps]\nwarn = -inf\n", "metrics.nps.warn: Input should be a finite number"),
    ("[metrics.nps]\ntarget = 1e308\nwarn = -1e308\n", "metrics.nps.target: Input should be less than or equal to 1000000"),
    ("[metrics.closure_time]\ntarget = -1e308\nwarn = 1e308\n", "metrics.closure_time.target: Input should be greater than or equal to -1000000"),
    ("[metrics.closure_time]\nsla_days = nan\n", "metrics.closure_time.sla_days: Input should be a finite number"),
    ("[metrics.handoff_quality]\nsla_days = 1e308\n", "metrics.handoff_quality.sla_days: Input should be less than or equal to 3660"),
    ("[metrics.nps]\nmin_sample = 100000000000000000\n", "metrics.nps.min_sample: Input should be less than or equal to 1000000000"),
])
def test_numbers_are_finite_and_bounded(tmp_path, run, text, message):
    path = write(tmp_path, text)
    assert clean_error(run("validate", "--config", path), 3).startswith(f"Error: {path}: {message}")


@pytest.mark.parametrize("text, message", [
    ("[metrics.nps]\ntarget = true\n", "metrics.nps.target: Input should be a valid number"),  # was 1: "on track"
    ('[metrics.nps]\ntarget = "40"\n', "metrics.nps.target: Input should be a valid number"),
    ("[metrics.nps]\nmin_sample = 30.0\n", "metrics.nps.min_sample: Input should be a valid integer"),
    ('[report]\nmeeting_minutes = "60"\n', "report.meeting_minutes: Input should be a valid integer"),
    ("[report]\nmax_staleness_days = true\n", "report.max_staleness_days: Input should be a valid number"),
    ('[sources.handoffs]\ndetect_trailers = "no"\n', "sources.handoffs.detect_trailers: Input should be a valid boolean"),
    ('[sources.handoffs]\nmax_rejected_share = "0.5"\n', "sources.handoffs.max_rejected_share: Input should be a valid number"),
    (EMAIL + 'starttls = "false"\n', "email.starttls: Input should be a valid boolean"),
])
def test_a_value_of_the_wrong_type_is_refused_not_converted(tmp_path, run, text, message):
    path = write(tmp_path, text)
    assert clean_error(run("validate", "--config", path), 3).startswith(f"Error: {path}: {message}")


@pytest.mark.parametrize("address, fix", [
    ("jürgen@acme.example", "use an address whose part before @ is ASCII"),
    ("j@bücher.example", "write the domain as xn--bcher-kva.example"),
])
def test_an_address_beyond_ascii_is_refused_at_load(tmp_path, run, address, fix):
    """smtplib sends ASCII addresses only: the send stopped with a traceback after rendering."""
    path = write(tmp_path, EMAIL.replace('to = ["', f'to = ["{address}", "'))
    assert fix in clean_error(run("validate", "--config", path), 3)


def test_a_finite_target_far_beyond_the_data_still_renders(tmp_path, run):
    """The chart's axis takes the target: the largest allowed one draws."""
    (tmp_path / "nps.csv").write_text("response_id,responded_at,score\nr1,2026-10-01,9\n", encoding="utf-8")
    path = write(tmp_path, '[report]\ntimezone = "UTC"\noutput_dir = "out"\n[data]\ndir = "."\n'
                           "[metrics.nps]\ntarget = 1e6\nwarn = -1e6\n")
    result = run("render", "--month", "2026-10", "--config", path)
    assert result.exit_code == 0, result.output


def test_deeply_nested_toml(tmp_path, run):
    path = write(tmp_path, "x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert clean_error(run("validate", "--config", path), 3) == (
        f"Error: {path}: config.toml nests too deeply (arrays or inline tables inside each other)")
    path = write(tmp_path, "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n")
    assert "nests too deeply" in clean_error(run("validate", "--config", path), 3)


def test_a_device_or_huge_file_as_config(tmp_path, run):
    line = clean_error(run("validate", "--config", "/dev/zero"), 3)
    assert line == "Error: /dev/zero: larger than 1 MiB: not a config file"


@pytest.mark.parametrize("text, message", [
    ('[report]\ntimezone = "' + "a" * 5000 + '"\n', "report.timezone: unknown IANA time zone 'aaaa"),
    ('[report]\ntimezone = "Europe/Berlin\\u0000"\n', "report.timezone: unknown IANA time zone"),
    ('[sources.nps]\nencoding = "utf-8\\u0000"\n', "sources.nps.encoding: unknown encoding"),
    ('[sources.nps]\ndelimiter = "é"\n', "sources.nps.delimiter: delimiter must be one printable ASCII character"),
    ('[sources.nps]\ndelimiter = "\\u0000"\n', "sources.nps.delimiter: delimiter must be one printable ASCII character"),
])
def test_odd_names_are_config_errors(tmp_path, run, text, message):
    path = write(tmp_path, text)
    line = clean_error(run("validate", "--config", path), 3)
    assert message in line and len(line) < 300


def test_config_with_old_mac_line_endings_still_loads(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b'[report]\rcompany = "Acme"\r\n[metrics.nps]\rtarget = 50\r')
    config = Config.from_file(path)
    assert (config.report.company, config.metrics.nps.target) == ("Acme", 50)
