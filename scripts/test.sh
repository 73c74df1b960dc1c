#!/usr/bin/env bash
# The test command of README.md: installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements-dev.txt
# Browser tests drive Debian's Chromium (never a downloaded browser build).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "chromium could not be installed: browser tests will be skipped" >&2
fi
# The layer contract of pyproject.toml ([tool.importlinter]).
lint-imports
python -m pytest -q "$@"
