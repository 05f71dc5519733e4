#!/usr/bin/env bash
# The playground's browser test drives Debian's chromium (Playwright's Python package, no browser
# download). Install it when missing; called by scripts/test.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "the browser test needs Chromium: install it and put 'chromium' on PATH" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "installing Debian's chromium for the playground's browser test ..." >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
