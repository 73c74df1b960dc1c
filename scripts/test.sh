#!/usr/bin/env bash
# The test command of README.md: installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements-dev.txt
# Debian packages the tests use: Chromium for the browser tests (never a downloaded browser build),
# a CJK font for the Chinese figures and screenshots, Fashion-MNIST for the tests on its full test split.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
        || echo "could not install ${missing[*]}: the tests that need them will be skipped" >&2
fi
# The layer contract of pyproject.toml ([tool.importlinter]).
lint-imports
# One torch thread unless the caller sets it: the tests run many small tensor operations, for which a
# second intra-op thread costs more than it gains (the fast tier on 2 cores: 181 s with 2 threads,
# 101 s with 1; session 22). Python threads (concurrent users, the served app) are unaffected.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
python -m pytest -q "$@"
