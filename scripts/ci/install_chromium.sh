#!/bin/sh
# Installs Debian's chromium for the status server's end-to-end test
# (tests/server_e2e.test.ts drives /usr/bin/chromium through playwright-core).
# Idempotent: does nothing when /usr/bin/chromium is already there.
set -eu

if [ -x /usr/bin/chromium ]; then
  echo "install_chromium: /usr/bin/chromium present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
/usr/bin/chromium --version || true
