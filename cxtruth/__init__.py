"""cxtruth: raw CX exports in, an honest monthly truth-session agenda out.

The pipeline is importable stage by stage::

    from cxtruth.config import load_config
    from cxtruth.sources import load_sources
    from cxtruth.metrics import MetricInputs, compute_month
    from cxtruth.agenda import build_report

The CLI (`cxtruth.cli`) is a thin layer over these.
"""

__version__ = "0.1.0"
