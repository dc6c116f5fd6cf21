# Encore: `make run` starts the studio, `make test` runs everything CI runs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint format bootstrap platform bench screenshot clean

bootstrap:
	@bash scripts/bootstrap.sh

run: bootstrap
	@bash scripts/run.sh

test: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/pytest -q -ra

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: bootstrap
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

platform: bootstrap
	$(VENV)/bin/encore-platform serve --demo

bench: bootstrap
	PYTHONPATH=. $(PY) benchmarks/engine.py
	PYTHONPATH=. QT_QPA_PLATFORM=offscreen $(PY) benchmarks/streaming.py

screenshot: bootstrap
	bash scripts/screenshot.sh docs/screenshot.png

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache *.egg-info
