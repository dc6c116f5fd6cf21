# Encore: `make run` starts the studio, `make test` runs everything CI runs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint format bootstrap platform bench screenshot clean bundle bundle-check

bootstrap:
	@bash scripts/bootstrap.sh

run: bootstrap
	@bash scripts/run.sh

test: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/pytest -q -ra -n 2 --dist loadfile --max-worker-restart 0

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

# The desktop bundle (README, "Desktop bundle"): dist/encore/, not part of `make test` (minutes).
BUNDLE_WORK := build/bundle
KERNEL_CPU ?= x86-64-v2

bundle: bootstrap
	test -x $(VENV)/bin/pyinstaller || $(VENV)/bin/pip install -q -e '.[bundle]'
	$(PY) packaging/prepare.py --out $(BUNDLE_WORK) --cpu $(KERNEL_CPU)
	ENCORE_BUNDLE_PREPARED=$(BUNDLE_WORK) $(VENV)/bin/pyinstaller --noconfirm --clean \
		--log-level WARN --workpath $(BUNDLE_WORK)/pyinstaller --distpath dist packaging/encore.spec
	@du -sh dist/encore

bundle-check:
	$(PY) packaging/smoke.py --bundle dist/encore

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache *.egg-info
