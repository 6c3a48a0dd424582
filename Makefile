# Enclave: two commands for a newcomer.
#   make demo   set everything up, then run Enclave's main job on the embedded defaults
#   make test   set everything up, then run the whole test suite
# Everything installs into .venv; system packages (a headless browser for report tests) via apt
# when running as root and they are missing.

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
SYSSTAMP := .stamp-sysdeps
export ENCLAVE_HOME ?= $(CURDIR)/.enclave

.PHONY: install demo test lint bench sysdeps clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first and pinned: an unpinned install would pull several GB of CUDA builds
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

# A real headless browser for the report and page tests (Debian's chromium + chromedriver).
sysdeps: $(SYSSTAMP)

$(SYSSTAMP):
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "warning: chromium/chromedriver missing and not root: browser tests will fail" >&2; fi
	touch $(SYSSTAMP)

demo: install
	$(PY) -m enclave.demo

test: install sysdeps
	$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

bench: install
	$(PY) bench/engine.py

clean:
	rm -rf $(VENV) $(SYSSTAMP) .pytest_cache .ruff_cache
