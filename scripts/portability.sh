#!/usr/bin/env bash
# Every notebook's stored outputs against fresh runs in other environments (nbval), to
# show that they hold on other CPUs and thread counts, not only on the machine that
# stored them. Each variant changes what a reader's machine may change:
#   ATEN_CPU_CAPABILITY      the vector instructions of PyTorch's own kernels
#                            (default = none, avx2; AVX-512 is what this project's
#                            machine has, and what scripts/test.sh runs natively)
#   OMP_NUM_THREADS          the number of threads (1 to 3 on a 2-core machine)
#   MKL_ENABLE_INSTRUCTIONS  another code path in MKL's matrix products
# Usage: bash scripts/portability.sh [notebook ...]   (default: every notebook)
# Extra pytest arguments can follow "--". Creates the environment first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
notebooks=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do notebooks+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#notebooks[@]} -gt 0 ] || notebooks=(chapter19/*.ipynb)
VARIANTS=(
  "ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1"
  "ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=3"
  "ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=1 MKL_ENABLE_INSTRUCTIONS=AVX2"
  "ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=2 MKL_ENABLE_INSTRUCTIONS=AVX2"
)
failed=0
for variant in "${VARIANTS[@]}"; do
  echo "=== nbval with $variant"
  # shellcheck disable=SC2086
  env $variant .venv/bin/python -m pytest -p no:cacheprovider "${notebooks[@]}" \
    --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg "$@" \
    || failed=1
done
exit $failed
