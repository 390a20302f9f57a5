# Two commands: `make demo` runs the whole system on this machine, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# One test worker per core (up to four); a file's tests stay on one worker, sharing its fixtures.
PYTEST_WORKERS ?= -n auto --maxprocesses=4 --dist loadfile

.PHONY: demo test lint clean

demo: $(INSTALLED)
	scripts/system-deps run
	$(BIN)/kiosk demo $(ARGS)

test: $(INSTALLED)
	scripts/system-deps test
	$(BIN)/python -m pytest $(PYTEST_WORKERS) $(ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy

$(INSTALLED): setup.cfg pyproject.toml
	scripts/system-deps run
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[kiosk,hq,eval,dev]'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info
