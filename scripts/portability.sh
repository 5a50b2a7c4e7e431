#!/usr/bin/env bash
# Every notebook's stored outputs against fresh runs in other environments (nbval), to
# show that they hold on other CPUs and thread counts, not only on the machine that
# stored them. Each variant changes what a reader's machine may change:
#   ATEN_CPU_CAPABILITY      the vector instructions of PyTorch's own kernels
#                            (default = none, avx2; AVX-512 is what this project's
#                            machine has, and what scripts/test.sh runs natively)
#   ONEDNN_MAX_CPU_ISA       the vector instructions of oneDNN's kernels (convolutions)
#   OMP_NUM_THREADS          the number of threads (1 to 3 on a 2-core machine)
#   MKL_ENABLE_INSTRUCTIONS  another code path in MKL's matrix products
# The quick notebooks run under every variant; the long ones (LeNet training, minutes
# each) under one, the variant furthest from the native run, so that CI stays short.
# The sections with worker processes (19.3, 19.5 and 19.3's solutions) do not run here:
# what they compare are checks of timing claims and results of the simulation (pure
# Python sums), and the LeNet trials they run are those the long notebooks check.
# Usage: bash scripts/portability.sh [notebook ...]   (given notebooks: every variant)
# Extra pytest arguments can follow "--". Creates the environment first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
notebooks=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do notebooks+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
LONG=(chapter19/hyperopt-api.ipynb chapter19/hyperopt-api-solutions.ipynb chapter19/sh-intro.ipynb)
WORKERS=(chapter19/rs-async.ipynb chapter19/rs-async-solutions.ipynb chapter19/sh-async.ipynb)
long=()
if [ ${#notebooks[@]} -eq 0 ]; then
  for nb in chapter19/*.ipynb; do
    case " ${LONG[*]} ${WORKERS[*]} " in
      *" $nb "*) case " ${LONG[*]} " in *" $nb "*) long+=("$nb") ;; esac ;;
      *) notebooks+=("$nb") ;;
    esac
  done
fi
VARIANTS=(
  "ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1"
  "ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=3"
  "ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 MKL_ENABLE_INSTRUCTIONS=AVX2"
  "ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=2 MKL_ENABLE_INSTRUCTIONS=AVX2"
)
nbval() {
  # shellcheck disable=SC2086
  env $1 .venv/bin/python -m pytest -p no:cacheprovider "${@:2}" \
    --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg "${extra[@]}"
}
extra=("$@")
# Two lanes, one per core, run side by side: the notebooks train with one torch thread,
# so two nbval runs at once take little longer than one. Lane 1 has the long notebooks
# and the first variant of the quick ones, lane 2 the other variants.
lane() {
  local status=0 variant
  for variant in "$@"; do
    if [ "$variant" = long ]; then
      [ ${#long[@]} -gt 0 ] || continue
      echo "=== nbval with ${VARIANTS[0]}: ${long[*]}"
      nbval "${VARIANTS[0]}" "${long[@]}" || status=1
    else
      echo "=== nbval with $variant: ${notebooks[*]}"
      nbval "$variant" "${notebooks[@]}" || status=1
    fi
  done
  return $status
}
logs=$(mktemp -d)
lane long "${VARIANTS[0]}" > "$logs/lane1" 2>&1 &
first=$!
lane "${VARIANTS[@]:1}" > "$logs/lane2" 2>&1 &
second=$!
failed=0
wait $first || failed=1
wait $second || failed=1
cat "$logs/lane1" "$logs/lane2"
rm -rf "$logs"
exit $failed
