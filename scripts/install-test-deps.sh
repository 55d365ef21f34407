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
# The real-server lab (mdlab/): swaks needs Net::SSLeay for STARTTLS and SMTPS; nsenter/setpriv come
# from util-linux; php-cli runs the "website script". Postfix conflicts with exim4 in apt, so it is
# unpacked (not installed) once.
apt-get install -y -qq libnet-ssleay-perl util-linux php-cli >/dev/null
MDLAB_POSTFIX=/opt/mdlab/postfix
if [ ! -x "$MDLAB_POSTFIX/usr/lib/postfix/sbin/master" ]; then
    pf_tmp=$(mktemp -d)
    chown _apt "$pf_tmp" 2>/dev/null || true
    (cd "$pf_tmp" && apt-get download -qq postfix)
    mkdir -p "$MDLAB_POSTFIX"
    dpkg-deb -x "$pf_tmp"/postfix_*.deb "$MDLAB_POSTFIX"
    rm -rf "$pf_tmp"
fi
