"""Where config.toml is, what it says before validation, and where each source's file is.

No pydantic here: `metrics` plans its reads from config.toml as written and starts
them before pydantic is imported to validate it (0.1 s, docs/performance.md).
`config.Config` validates the same file and uses the same defaults and paths.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from .errors import ConfigError

DEFAULT_DATA_DIR = "sample_metrics"  # [data] dir
# How a source's file is read when its [sources.<name>] table leaves a key out.
DEFAULT_ENCODING = "utf-8"
DEFAULT_DELIMITER = ","
DEFAULT_DECIMAL = "."


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


def resolve(base_dir: Path, relative: str | Path) -> Path:
    """A path from config.toml: ``~`` expanded, relative ones against the config's folder."""
    path = Path(relative).expanduser()
    return path if path.is_absolute() else base_dir / path


def source_file(base_dir: Path, data_dir: str, name: str, path: str | None) -> tuple[Path, bool]:
    """(path, user_set) for a source: its configured path or <data.dir>/<name>.csv."""
    if path:
        return resolve(base_dir, path), True
    return resolve(base_dir, data_dir) / f"{name}.csv", False


def one_char_delimiter(value: str) -> str:
    """A delimiter as config.toml may write it: the two characters ``\\t`` mean a tab."""
    return "\t" if value == "\\t" else value
