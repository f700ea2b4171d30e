#!/usr/bin/env bash
# Set up csvae in ./.venv: a CPU build of PyTorch when no CUDA GPU is present (a plain
# `pip install torch` pulls a multi-GB CUDA build), then the package and its test tools.
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip -q --disable-pip-version-check)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    "${PIP[@]}" install torch
  else
    # The CPU wheel: from a local wheel directory when pip is configured with one, else from
    # PyTorch's CPU index.
    "${PIP[@]}" install "torch==2.13.0+cpu" 2>/dev/null \
      || "${PIP[@]}" install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
  fi
fi
"${PIP[@]}" install -e ".[dev]"
# The browser tests of `csvae explore` drive the system's Chromium through Playwright (never
# Playwright's own browser download). Install Debian's chromium when it is missing; where that is
# not possible the browser tests skip and say why.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  if command -v apt-get >/dev/null 2>&1 && { [ -z "$SUDO" ] || sudo -n true 2>/dev/null; }; then
    $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null \
      || echo "setup: could not install chromium; the browser tests of csvae explore will skip" >&2
  else
    echo "setup: no chromium and no apt-get as root; the browser tests of csvae explore will skip" >&2
  fi
fi
