# Set-up is part of every target: a fresh machine needs only Python 3.11 and make.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test ui benchmark benchmark-national generate check-generated clean system-deps

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --compile-bytecode -p $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --compile-bytecode -p $(BIN)/python --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)  ## build warehouse/ from the bundled samples in raw/
	$(BIN)/xxgk run

# headless Chromium renders the quality report in the tests (Debian packages; needs root or sudo)
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

test: $(STAMP) system-deps  ## run the test suite
	$(BIN)/python -m pytest -q -n 2 tests

ui: $(STAMP)  ## Dagster UI on http://127.0.0.1:3000 (runs kept in warehouse/.dagster)
	$(BIN)/python -c "from pipelines.runner import prepare_dagster_home; prepare_dagster_home('warehouse/.dagster')"
	DAGSTER_HOME=$(CURDIR)/warehouse/.dagster $(BIN)/dagster dev -m pipelines.definitions

benchmark: $(STAMP)  ## every script of benchmarks/ (each writes its own key of benchmarks/results.json)
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

benchmark-national: $(STAMP)  ## 1M reports (the 10k synthetic warehouse x100): every view and README SQL example, cold/warm -> benchmarks/results.json
	$(BIN)/python benchmarks/national.py

generate: $(STAMP)  ## regenerate files derived from the registry
	$(BIN)/xxgk expectations generate
	$(BIN)/xxgk docs generate

check-generated: $(STAMP)
	$(BIN)/xxgk expectations generate --check
	$(BIN)/xxgk docs generate --check

clean:
	rm -rf warehouse/parquet warehouse/xxgk.duckdb warehouse/reports
