#!/usr/bin/env bash
# The main job: build the book into _build/html from the notebooks' committed outputs
# (no re-execution), with warnings as errors. Creates the environment first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/jupyter-book build . -W --keep-going
echo "The book is in $(pwd)/_build/html/index.html"
