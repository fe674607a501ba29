#!/usr/bin/env bash
# The browser test drives Debian's Chromium (DESIGN.md §5); install it when it is missing. Browser downloads
# from elsewhere do not work on these machines, so this is the one way in.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "Chromium is missing at /usr/bin/chromium: install Debian's chromium package (the viewer test needs it)" >&2
  exit 1
fi
echo "installing Debian's chromium for the viewer test"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
