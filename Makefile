# Two commands on a fresh machine: `make run` and `make test` (README, Quick start).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck install setup bytecode ffmpeg tools browser bench lock clean

# `run` needs only the install (no compose or browser checks): its output is what it installs,
# then the banner. `make run PORT=8081 S3_PORT=9001` moves the ports (as EMULATOR_PORT would).
run: install
	@$(BIN)/transcode-emulator serve $(if $(PORT),--port $(PORT)) $(if $(S3_PORT),--s3-port $(S3_PORT))

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check emulator tests benchmarks migrations

typecheck: setup
	$(BIN)/mypy

install: $(STAMP) bytecode ffmpeg

setup: install tools browser

# Compiled once here, so every start reads bytecode even where PYTHONDONTWRITEBYTECODE is set
# (an editable install is not compiled by pip); files already up to date are skipped.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q emulator migrations >/dev/null

# pip --quiet still shows the build backend's warnings. setuptools' editable install uses a meta
# path finder here (migrations/ is installed as emulator.migrations) and always adds a note,
# "Editable installation ... be careful with folders": information, not a fault, so filtered.
# Twice quiet: pip's warnings about the machine's own pip configuration (an extra index that is
# not there, say) are not the user's problem here; its errors still show.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	@echo "Installing transcode-emulator and its dependencies into $(VENV) (again only when pyproject.toml changes)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --quiet --upgrade pip
	@PYTHONWARNINGS='ignore:Editable installation' $(BIN)/python -m pip install --quiet --quiet \
		-c constraints.txt -e '.[dev]'
	@touch $(STAMP)

ffmpeg:
	@sh scripts/ensure-ffmpeg.sh

# Debian's docker-compose validates docker-compose.yml in the tests (no Docker engine needed).
# Without recommends: they would pull in the docker.io engine. Elsewhere the test skips.
tools:
	@if command -v docker-compose >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "docker-compose is missing: installing Debian's package with apt-get"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q --no-install-recommends docker-compose >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && \
		  apt-get install -y -q --no-install-recommends docker-compose >/dev/null; } || \
		echo "tools: could not install docker-compose: tests/test_compose.py skips its config check"; \
	else \
		echo "tools: docker-compose is missing and cannot be installed here (needs root and apt-get): tests/test_compose.py skips its config check"; \
	fi

# Debian's Chromium runs the dashboard's browser tests (tests/ui/: Playwright drives the system
# browser; never `playwright install`, which downloads one). Elsewhere those tests skip, saying why.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "chromium is missing: installing Debian's package with apt-get"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } || \
		echo "browser: could not install chromium: tests/ui/ skip their browser tests"; \
	else \
		echo "browser: chromium is missing and cannot be installed here (needs root and apt-get): tests/ui/ skip their browser tests"; \
	fi

# As modules: the scripts import benchmarks._common (a script path would not find it).
bench: setup
	for script in benchmarks/[!_]*.py; do $(BIN)/python -m benchmarks.$$(basename $$script .py) || exit 1; done

# constraints.txt anew: the newest versions pyproject.toml allows, resolved in a fresh venv.
# Then `make test` on them, and commit both files only if it passes (README, Development).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' .lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	{ sed -n '1,2p' constraints.txt; .lock-venv/bin/python -m pip freeze --exclude-editable; } \
		> constraints.txt.new && mv constraints.txt.new constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .emulator-data build *.egg-info
