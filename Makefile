# alif-spice: two commands set everything up on a fresh Debian/Ubuntu machine.
#   make run    install what is missing, run the paper's case, print where the result is
#   make test   install what is missing, run the test suite
# The Dockerfile repeats the install steps of the 'system' and 'install' targets.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
OUT    ?= results/paper

.PHONY: run test lint test-ngspice-next install system browser bench mutation clean

## Debian packages: ngspice + its shared library (PySpice's backend), venv support
system:
	@missing=""; \
	command -v ngspice >/dev/null 2>&1 || missing="$$missing ngspice"; \
	/sbin/ldconfig -p 2>/dev/null | grep -q 'libngspice\.so\.0 ' \
	  || ls /usr/lib/*/libngspice.so.0 >/dev/null 2>&1 || ls /usr/lib/libngspice.so.0 >/dev/null 2>&1 \
	  || missing="$$missing libngspice0"; \
	$(PYTHON) -c "import ensurepip, venv" >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y $$missing; \
	fi

## the browser the report tests drive: Debian's Chromium and its WebDriver (tests only;
## where neither can be installed, the browser tests are skipped and say why)
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  echo "installing Debian packages: chromium chromium-driver"; \
	  { $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium chromium-driver; } \
	  || echo "no browser could be installed: the browser tests will be skipped"; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# dependencies are reinstalled only when pyproject.toml changes
$(VENV)/.deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q ".[dev]"
	touch $@

## the package itself: a real (non-editable) install, so the tests see what users get
install: system $(VENV)/.deps
	$(BIN)/python -m pip install -q --no-deps --force-reinstall .

run: install
	$(BIN)/alif-spice compare --case paper -o $(OUT); status=$$?; \
	echo "paper case report: $(OUT)/report.html"; exit $$status

test: install browser
	cd tests && ../$(BIN)/pytest -q

## style and correctness checks of the code (ruff and mypy, configured in pyproject.toml)
lint: $(VENV)/.deps
	$(BIN)/ruff check alif_spice tests tools benchmarks
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/bench_ode.py
	$(BIN)/python benchmarks/bench_spice.py
	$(BIN)/python benchmarks/bench_compare.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python -m pip install -q plotly  # the library the interactive traces are measured against
	$(BIN)/python benchmarks/bench_interactive.py

## the suite again on the current ngspice release (Debian backports), unpacked into
## $(NGSPICE_NEXT) beside the project; the system's ngspice is not touched
NGSPICE_NEXT ?= .ngspice-next
$(NGSPICE_NEXT)/lib/libngspice.so.0:
	bash tools/ngspice-next.sh $(NGSPICE_NEXT)

test-ngspice-next: install browser $(NGSPICE_NEXT)/lib/libngspice.so.0
	NGSPICE_LIBRARY_PATH=$(abspath $(NGSPICE_NEXT))/lib/libngspice.so.0 $(BIN)/alif-spice --version
	cd tests && NGSPICE_LIBRARY_PATH=$(abspath $(NGSPICE_NEXT))/lib/libngspice.so.0 \
	  PATH=$(abspath $(NGSPICE_NEXT))/bin:$$PATH ../$(BIN)/pytest -q

## mutation testing of the core modules (not part of CI; about 3 h on 2 cores with the samples of tools/mutation.toml, see docs/testing.md)
MUTATION_ARGS ?= --budget-min 240
mutation: install
	$(BIN)/python -m pip install -q "cosmic-ray==8.7.0"
	$(BIN)/python tools/mutation.py $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) build dist results .pytest_cache $(NGSPICE_NEXT)
