#!/usr/bin/env bash
# Every test: lint, the library's tests, the book's build, and the notebooks' stored
# outputs against a fresh run (nbval). Creates the environment first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest tests "$@"
