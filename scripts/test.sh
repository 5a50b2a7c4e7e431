#!/usr/bin/env bash
# Every test: lint, the library's tests, the book's build checked in a browser, every
# notebook's stored outputs against a fresh run (nbval), then the same again under other
# CPU instruction sets and thread counts (scripts/portability.sh). Creates the
# environment first if needed.
#   bash scripts/test.sh            everything (about 45 minutes on 2 cores)
#   bash scripts/test.sh --quick    without the portability variants
# Other arguments go to the first pytest run.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
if [ "${1:-}" = "--quick" ]; then
  quick=1
  shift
fi
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# The reader editions (what Colab and Studio Lab open) are run by nbval as well, those
# of the quick notebooks: the long ones' editions have the same code cells and outputs
# as their sources (tests/test_reader_edition.py), which nbval runs.
READER=(what-is-hpo.ipynb what-is-hpo-solutions.ipynb sh-intro-solutions.ipynb
  sh-async-solutions.ipynb)
editions=()
for nb in "${READER[@]}"; do
  for folder in notebooks/chapter19 notebooks-student/chapter19; do
    [ -f "$folder/$nb" ] && editions+=("$folder/$nb")
  done
done
# The scale-out tests need PostgreSQL (setup.sh installs it): fail, never skip, here.
export D2L_HPO_REQUIRE_POSTGRES=1
.venv/bin/python -m pytest tests chapter19 "${editions[@]}" \
  --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg "$@"
if [ "$quick" = 0 ]; then
  bash scripts/portability.sh
fi
