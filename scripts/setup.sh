#!/usr/bin/env bash
# Create the project's environment: Debian packages, then .venv with everything pinned
# here. Idempotent and quick once done (a stamp records what was installed).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the real Fashion-MNIST files (so no test downloads them),
# Chromium for the browser test, PostgreSQL for the scale-out tests of 19.3 and
# 19.5 (a throw-away server each test run makes), and venv support.
APT_PACKAGES=(dataset-fashion-mnist chromium postgresql)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
command -v npm >/dev/null || missing+=(npm)  # fetches MathJax from npm's registry
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "Installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

# MathJax, served with the book so that its math renders offline too: the es5 build of
# the npm package (integrity-checked by npm), unpacked where _config.yml's
# html_static_path finds it (.vendor/static/mathjax -> _static/mathjax).
MATHJAX_VERSION=3.2.2
if [ "$(cat .vendor/mathjax.version 2>/dev/null)" != "$MATHJAX_VERSION" ]; then
  echo "Fetching MathJax $MATHJAX_VERSION from npm"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "mathjax@$MATHJAX_VERSION" >/dev/null)
  rm -rf .vendor/static/mathjax
  mkdir -p .vendor/static/mathjax
  tar -xzf "$tmp/mathjax-$MATHJAX_VERSION.tgz" -C .vendor/static/mathjax --strip-components=2 \
    package/es5
  rm -rf "$tmp"
  echo "$MATHJAX_VERSION" > .vendor/mathjax.version
fi

# torch and torchvision are pinned only here (pyproject.toml keeps ranges):
# on these machines pip takes these two releases from local disk.
TORCH_PINS=${TORCH_PINS:-"torch==2.14.1 torchvision==0.29.1"}
stamp=".venv/.installed"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1) $TORCH_PINS"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)
# shellcheck disable=SC2086
"${PIP[@]}" $TORCH_PINS
# d2l 1.0.3 pins numpy==1.23.5, pandas==2.0.3, ... which do not install on
# Python 3.12; d2l_hpo declares what d2l.torch really imports instead.
"${PIP[@]}" --no-deps d2l==1.0.3
"${PIP[@]}" -e ".[book,test]"
echo "$want" > "$stamp"
