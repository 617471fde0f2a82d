"""sample_metrics/ is exactly what the deterministic generator writes."""

import subprocess
import sys

from conftest import ROOT


def test_generator_reproduces_committed_sample(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sample_data.py"), str(tmp_path)],
                   check=True, capture_output=True)
    committed = sorted(p.name for p in (ROOT / "sample_metrics").glob("*.csv"))
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == committed
    for name in committed:
        assert (tmp_path / name).read_bytes() == (ROOT / "sample_metrics" / name).read_bytes(), name
