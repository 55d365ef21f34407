#!/usr/bin/env bash
# Debian packages the test suite needs (real servers for the integration lab). Needs root.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
    echo "install-test-deps: run as root (apt-get)" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq exim4-daemon-heavy unbound swaks iproute2 iptables nftables openssl procps >/dev/null
