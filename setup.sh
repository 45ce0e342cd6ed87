#!/usr/bin/env bash
# Set up callqa in ./.venv (Python 3.11+). Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
echo "callqa is installed in .venv ($(.venv/bin/callqa --version))"
