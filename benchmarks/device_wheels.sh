#!/usr/bin/env bash
# Wheels a bare GPU machine lacks for benchmarks/train_zero3.py, downloaded here (needs PyPI) into .whl/
# (git-ignored through .git/info/exclude) for Python 3.12 on x86-64. The GPU image is assumed to hold
# torch, accelerate, pandas, pyarrow, psutil, ninja, py-cpuinfo, msgpack, einops, tokenizers; it lacks
# DeepSpeed, TRL, datasets and their small dependencies, and its transformers (5.17) is older than the
# 5.24 that earlier H200 runs of TRL 1.16 used, so that comes along too (TRANSFORMERS_VERSION= to skip). DeepSpeed ships as source only: it is
# built here into a pure-Python wheel with DS_BUILD_OPS=0 (no CUDA ops compiled; ZeRO-3 with the
# recipe's torch AdamW needs none, and DeepSpeed builds any other op just in time where it runs).
#
#   bash benchmarks/device_wheels.sh                 # ~19 MB; WITH_PYARROW=1 adds pyarrow (~45 MB)
# then, on the GPU machine, in the repository root, with .whl carried along:
#   python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
#     && PYTHONPATH=/tmp/site:$PWD python3 benchmarks/train_zero3.py
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DEEPSPEED_VERSION=${DEEPSPEED_VERSION:-0.19.8}
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl && mkdir -p .whl
plat=(--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
pkgs=(trl==1.16.0 datasets==5.2.0 'dill>=0.3.0,<0.4.2' 'multiprocess<0.70.20' hjson pydantic==2.14.4
      pydantic-core==2.50.5 annotated-types typing-inspection)
TRANSFORMERS_VERSION=${TRANSFORMERS_VERSION-5.24.0}
[ -n "$TRANSFORMERS_VERSION" ] && pkgs+=("transformers==$TRANSFORMERS_VERSION")
[ "${WITH_PYARROW:-0}" = 1 ] && pkgs+=('pyarrow>=24')
"$PY" -m pip download -q --no-deps "${plat[@]}" -d .whl "${pkgs[@]}"
src=$(mktemp -d)
"$PY" -m pip download -q --no-deps --no-binary :all: -d "$src" "deepspeed==$DEEPSPEED_VERSION"
tar xzf "$src"/deepspeed-*.tar.gz -C "$src"
(cd "$src/deepspeed-$DEEPSPEED_VERSION" && DS_BUILD_OPS=0 "$OLDPWD/$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$OLDPWD/.whl" .)
rm -rf "$src"
ls -1 .whl && du -sh .whl
