#!/usr/bin/env bash
# The whole test suite: system packages (as root), the venv, then ruff, mypy (strict on src/) and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
    bash scripts/install-test-deps.sh
else
    echo "test.sh: not root: system packages not installed; integration tests will skip outside CI" >&2
fi
bash scripts/bootstrap.sh test
.venv/bin/ruff check src tests bench scripts
.venv/bin/mypy
set +e
.venv/bin/python -m pytest -q "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
    echo "test.sh: pytest collected no tests" >&2
    exit 1
fi
exit "$rc"
