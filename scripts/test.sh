#!/usr/bin/env bash
# Every test: lint, the library's tests, the book's build checked in a browser, and
# every notebook's stored outputs against a fresh run (nbval). Creates the environment
# first if needed. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest tests chapter19 \
  --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg "$@"
