# The two commands of the README. Each sets everything up from nothing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
MONTH  ?= 2026-10

.PHONY: demo test bench system-deps warehouse-deps clean sample-data

# WeasyPrint draws text with Pango; most images have it, a bare one gets it here.
system-deps:
	@bash scripts/ensure-system-deps.sh

# The warehouse tests run a local Spark (a Java runtime) and a PostgreSQL server: only `make test` needs them.
warehouse-deps:
	@bash scripts/ensure-warehouse-deps.sh

$(BIN)/cxtruth: pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

demo: $(BIN)/cxtruth
	$(BIN)/cxtruth render --month $(MONTH) --config config.toml
	@echo "Open reports/cxtruth-$(MONTH).pdf"

test: $(BIN)/cxtruth | warehouse-deps
	$(BIN)/python -m pytest -q

# Not a test: generates 10M usage events (445 MB, in $(BENCH_DATA)) once, then times
# cxtruth against the DuckDB reference and prints the ratio (docs/performance.md).
BENCH_DATA ?= /tmp/cxtruth-bench
bench: $(BIN)/cxtruth
	$(BIN)/python bench/run.py --data $(BENCH_DATA) --render

# Regenerates sample_metrics/ (deterministic: the committed files are its output).
sample-data: $(BIN)/cxtruth
	$(BIN)/python scripts/make_sample_data.py sample_metrics

clean:
	rm -rf $(VENV) reports build dist *.egg-info
