#!/usr/bin/env bash
# The main job: build the book into _build/html from the notebooks' committed outputs
# (no re-execution), with warnings as errors. Creates the environment first if needed.
#   bash scripts/book.sh            the book, with worked solutions behind dropdowns
#   bash scripts/book.sh --student  the student edition, without any solution,
#                                   into _build/student/_build/html
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = "--student" ]; then
  .venv/bin/python scripts/student_edition.py _build/student-src
  .venv/bin/jupyter-book build _build/student-src --path-output _build/student -W --keep-going
  echo "The student edition is in $(pwd)/_build/student/_build/html/index.html"
else
  .venv/bin/jupyter-book build . -W --keep-going
  echo "The book is in $(pwd)/_build/html/index.html"
fi
