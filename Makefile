# annual-review: `make report` builds the latest year's report, `make test` runs the tests.
# Both set up .venv first (once, and again whenever pyproject.toml changes).

.DEFAULT_GOAL := help
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
READY := $(VENV)/.ready
ARGS ?=
# System packages: Pango and HarfBuzz's subsetter for PDF output (WeasyPrint); poppler to read the PDF back (the
# personal-data check, the tests); open-licence Simplified-Chinese fonts by role (Noto Serif/Sans CJK SC, LXGW WenKai).
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils fonts-noto-cjk fonts-lxgw-wenkai
# For the tests only: Chromium (browser tests) and LibreOffice Writer (the Word version converted as a reader would see it).
TEST_PACKAGES := chromium libreoffice-writer-nogui
# JupyterLab refuses to run as root unless told; containers and CI machines often are root.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

.PHONY: help setup system-deps compiled report preview test bench bench-registers bench-cluster lab clean distclean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(READY): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
	  { echo "annual-review needs Python 3.11 or newer; '$(PYTHON)' is not. Try: make PYTHON=python3.11 $(MAKECMDGOALS)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@$(MAKE) --no-print-directory system-deps
	@# Every role needs a font that draws Chinese: the system's (installed just above when root), else from PyPI.
	@$(PY) -m annual_review fonts >/dev/null 2>&1 || \
	  { echo "No Chinese system font found: installing Noto Serif SC and Noto Sans SC (SIL OFL) into $(VENV)"; \
	    $(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,fonts]'; }
	$(PY) -m annual_review fonts
	@touch $@

system-deps: ## install the system packages PDF output, the fonts and the tests use (Debian/Ubuntu, as root), if missing
	@missing=""; for p in $(SYSTEM_PACKAGES) $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing system packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
	  echo "PDF output, the role fonts and the tests need these system packages (or your system's equivalents):$$missing"; \
	fi

setup: $(READY) ## create .venv: the toolkit, test tools, and a Chinese font if the system has none

# The library's bytecode, as pip writes it for installed packages: every build process and each of its kernels
# imports the library, and where Python is told not to write bytecode (PYTHONDONTWRITEBYTECODE, common in
# containers and CI) each would compile it again. Quick when nothing changed.
compiled: $(READY)
	@$(PY) -m compileall -q lib >/dev/null

report: compiled ## build every year into outputs/<year>/report.html and outputs/index.html (ARGS="--year 2020" to choose)
	$(BIN)/annual-review build $(if $(ARGS),$(ARGS),--all)

preview: compiled ## write the report: serve the latest year at http://127.0.0.1:8000/, rebuilt on every save (ARGS="--year 2020")
	$(BIN)/annual-review preview $(ARGS)

test: compiled ## check the layers and the code (lint-imports, ruff), then run the whole test suite (ARGS="-k numbers" to choose)
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check --select F --quiet lib scripts tests
	$(PY) -m pytest $(ARGS)

bench: compiled ## time the build against papermill+nbconvert and the floor, and the preview's edits; writes outputs/bench.json
	$(PY) scripts/bench.py $(ARGS)

bench-registers: compiled ## time a 50,000-row register read from a workbook against the same rows as CSV
	$(PY) scripts/bench_registers.py $(ARGS)

bench-cluster: compiled ## a synthetic workspace (12 bodies × 3 years) on the local pool vs a Dask cluster; then 200 bodies' orchestration measured and projected to 2,000
	$(PY) scripts/bench_cluster.py $(ARGS)
	$(PY) scripts/bench_scale.py

lab: compiled ## open JupyterLab on notebooks/ (installs JupyterLab into .venv on first use)
	@$(PY) -c 'import jupyterlab' 2>/dev/null || $(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,lab]'
	cd notebooks && ../$(BIN)/jupyter lab $(LAB_ARGS)

clean: ## remove build outputs (outputs/*), keeping .venv
	find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +

distclean: clean ## remove build outputs and .venv
	rm -rf $(VENV)
