"""Source adapters: CSV exports in, validated canonical frames out.

`load_sources(config)` reads every source named in DATA_CONTRACT.md §2. Each
row that breaks a rule is left out and named (file, line, column, value,
reason); a file that cannot be read as a table raises `DataError`.

The adapters live in `adapters` and are imported on first use of a name here
(`from cxtruth.sources import load_sources` works as usual), so that config
validation, which uses `sources.dates` and `sources.presets`, does not import
pandas.
"""

import importlib

_SUBMODULES = {"adapters", "csvplan", "parse", "reader"}


def __getattr__(name: str):
    if name in _SUBMODULES or name.startswith("__"):
        raise AttributeError(name)  # the import system then loads the submodule itself
    return getattr(importlib.import_module(".adapters", __name__), name)
