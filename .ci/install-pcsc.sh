#!/usr/bin/env bash
# Install what the card reader tests (tests/hardware) need on Debian 12, as root: pcscd, the
# vsmartcard-vpcd virtual reader driver, and pyscard (built from source against libpcsclite).
# Idempotent. pcscd is not started here: .ci/run starts it, and the tests' pcscd fixture starts one when none is running.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"

packages=(pcscd vsmartcard-vpcd libpcsclite-dev swig)
# pyscard has no Linux wheel: pip compiles it, which needs a C compiler and Python's headers.
command -v cc >/dev/null 2>&1 || packages+=(gcc)
if ! "$PYTHON" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  packages+=(python3-dev)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  apt-get update
  apt-get install -y --no-install-recommends "${packages[@]}"
fi

"$PYTHON" -m pip install pyscard

test -f /etc/reader.conf.d/vpcd || { echo "vsmartcard-vpcd did not install /etc/reader.conf.d/vpcd" >&2; exit 1; }
"$PYTHON" -c 'import smartcard.scard' || { echo "pyscard does not import" >&2; exit 1; }
echo "pcsc: pcscd, vsmartcard-vpcd and pyscard are installed"
