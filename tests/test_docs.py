"""The docs promise what the code does: links resolve, commands and keys are documented."""

import re

from conftest import ROOT
from cxtruth.metrics import BUILT_IN as METRICS
from cxtruth.config import Config


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split()[0:2] for line in block.strip().splitlines()] == [["make", "demo"], ["make", "test"]]


def test_readme_links_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        assert (ROOT / target).exists(), target


def test_every_config_key_is_documented():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    defaults = Config().model_dump()
    for section in ("report", "data"):
        for key in defaults[section]:
            assert f"`{key}`" in doc, f"{section}.{key}"
    for key in defaults["sources"]["handoffs"]:
        assert f"`{key}`" in doc, f"sources.*.{key}"
    for metric in defaults["metrics"].values():
        for key in metric:
            assert f"`{key}`" in doc, key


def test_every_metric_is_documented():
    doc = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for key in METRICS:
        assert f"**{key}**" in doc and f"`{key}`" in readme, key


def test_sample_config_is_valid():
    config = Config.from_file(ROOT / "config.toml")
    assert config.report.company == "Acme Analytics"
