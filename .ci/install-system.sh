#!/usr/bin/env bash
# System packages the tests need on a fresh Debian 12 machine besides PC/SC (see install-pcsc.sh); as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  postgresql-client      # pg_isready, and pgbench for the benchmark
  poppler-utils          # pdftoppm: renders card print files so tests decode their QR codes
  chromium               # headless browser for the console and member page tests (driven by Playwright)
  fonts-noto-cjk         # Chinese glyphs in browser screenshots and rendered receipts
  xvfb                   # virtual screen for the Tk cashier window tests
  xdotool                # keyboard and mouse input to the Tk window
  imagemagick            # `import`: screenshots of the virtual screen
  redis-server           # shared rate-limit storage (RATELIMIT_STORAGE_URI) tested with several workers
  nginx                  # the reverse proxy of the local production topology (deploy/up.sh, tests/test_deploy_topology.py)
  postgresql             # server binaries (initdb, pg_basebackup) for that topology's primary and replica
  python3-tk             # Tk for the cashier window (the CI Python must be built with _tkinter)
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
