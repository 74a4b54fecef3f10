# Two commands: `make demo` (install + run the morning job offline) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint worker web clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/digest-mailer demo

test: $(VENV)/.installed-test
	$(BIN)/ruff check digest_mailer tests
	$(BIN)/pytest

worker: $(VENV)/.installed
	$(BIN)/huey_consumer digest_mailer.faces.tasks.huey --flush-locks --workers 2 --worker-type thread

web: $(VENV)/.installed
	$(BIN)/digest-mailer web

clean:
	rm -rf var
