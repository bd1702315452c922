#!/usr/bin/env bash
# Installs Debian's chromium when no Chromium is on PATH: the dashboard's browser test (test/dev/dev-dashboard.test.ts)
# drives it headless. Nothing is done when one is there already.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
sudo=""
if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq chromium
