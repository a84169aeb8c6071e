#!/usr/bin/env bash
# System packages the tests need beyond Python: a real Prometheus (with promtool) for the
# dashboard and alert checks, and Chromium with its driver for the dashboard page's
# headless-browser test. All from Debian; nothing is downloaded from anywhere else.
# Installs only what is missing, so a second run costs nothing. Needs root (or sudo).
set -euo pipefail

packages=(prometheus chromium chromium-driver)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "system-deps: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    }
    sudo="sudo"
fi
echo "system-deps: installing ${missing[*]} (Debian packages)"
$sudo apt-get update -qq
# The package's service is never started here: the tests run their own Prometheus.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
