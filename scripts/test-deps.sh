#!/usr/bin/env bash
# What `npm test` needs beyond node_modules, from Debian: the Python trainer's tests need PyTorch,
# pytest and Jinja2 (the tokenizer test renders the chat template as Hugging Face does), and
# OpenBLAS (pthread), which keeps torch's matmuls ~30x faster than the reference BLAS; the
# playground's browser tests drive Chromium (playwright-core never downloads one). `npm test`
# runs this first: as root on Debian it installs what is missing with apt-get; otherwise it names
# the packages and fails.
set -euo pipefail

PYTHON=/usr/bin/python3
need=()
[ -x "$PYTHON" ] || need+=(python3)
"$PYTHON" -c 'import torch' 2>/dev/null || need+=(python3-torch)
"$PYTHON" -c 'import pytest' 2>/dev/null || need+=(python3-pytest)
"$PYTHON" -c 'import jinja2' 2>/dev/null || need+=(python3-jinja2)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need+=(libopenblas0-pthread)
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test-deps: installing ${need[*]} (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${need[@]}"
  exit 0
fi
echo "test-deps: the tests need these Debian packages: ${need[*]}" >&2
echo "test-deps: install them as root: apt-get install --no-install-recommends ${need[*]}" >&2
exit 1
