# Two commands on a fresh machine: `make run` and `make test` (README, Quick start).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck setup ffmpeg bench clean

run: setup
	$(BIN)/transcode-emulator serve

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check emulator tests benchmarks migrations

typecheck: setup
	$(BIN)/mypy

setup: $(STAMP) ffmpeg

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

ffmpeg:
	@sh scripts/ensure-ffmpeg.sh

bench: setup
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .emulator-data build *.egg-info
