#!/bin/sh
# Install what the test suite drives but pip cannot provide: Debian's headless Chromium,
# and Noto fonts so right-to-left and Indic scripts render as text, not boxes, in the
# screenshots. Browser tests skip (with the reason) when Chromium is absent.
set -e
if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto"; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core >/dev/null) \
        || echo "could not install chromium; browser tests will be skipped" >&2
else
    echo "chromium not found and not root; browser tests will be skipped" >&2
fi
