#!/usr/bin/env bash
# Create .venv and install maildoctor into it. Usage: scripts/bootstrap.sh [EXTRAS]  (e.g. "test")
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    # Debian ships venv separately; installing it needs root.
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
        echo "bootstrap: python3-venv is missing: run 'sudo apt-get install -y python3-venv' first" >&2
        exit 2
    fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
# pip's chatter goes to a log that is shown only when the install fails
log=.venv/pip-install.log
spec="."
[ -n "$extras" ] && spec=".[$extras]"
if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e "$spec"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "bootstrap: pip install failed (log above)" >&2
    exit 1
fi
