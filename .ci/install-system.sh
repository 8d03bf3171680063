#!/usr/bin/env bash
# System packages the tests need on a fresh Debian 12 machine besides PC/SC (see install-pcsc.sh); as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  postgresql-client      # pg_isready, and pgbench for the benchmark
  poppler-utils          # pdftoppm: renders card print files so tests decode their QR codes
  xvfb                   # X server for the Tk cashier window test
  imagemagick            # `import`: screenshot of the cashier window
  python3-tk             # Tk for the cashier window (the CI Python must be built with _tkinter)
  fonts-noto-cjk         # Chinese glyphs in the window and its screenshot
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
