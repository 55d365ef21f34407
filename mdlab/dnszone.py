"""unbound configuration: the lab's test zones (MX, A, PTR, SPF TXT), an NXDOMAIN and a SERVFAIL domain."""

from __future__ import annotations

from pathlib import Path

from . import topology as t

# SPF policies by sender domain; clients connect from t.CLIENT_IP.
SPF_RECORDS = {
    "spf-pass.test": f"v=spf1 ip4:{t.CLIENT_IP} -all",
    "spf-fail.test": "v=spf1 ip4:203.0.113.99 -all",
    "spf-softfail.test": "v=spf1 ip4:203.0.113.99 ~all",
    "spf-neutral.test": "v=spf1 ?all",
    # Eleven includes: more than RFC 7208's ten DNS-querying terms, so a permerror.
    "spf-permerror.test": "v=spf1 " + " ".join(f"include:i{n}.spf-permerror.test" for n in range(1, 12)) + " -all",
    # The include's TXT lookup gets SERVFAIL: a temperror.
    "spf-temperror.test": "v=spf1 include:spf.servfail.test -all",
    "alice-shop.test": f"v=spf1 +a +mx ip4:{t.LOCAL_IP} ~all",
    "bob-blog.test": f"v=spf1 +a +mx ip4:{t.LOCAL_IP} ~all",
    "lab-hosting.test": f"v=spf1 ip4:{t.LOCAL_IP} -all",
    "remote.test": f"v=spf1 ip4:{t.REMOTE_MX_IP} -all",
    "postfix.test": f"v=spf1 ip4:{t.POSTFIX_IP} -all",
}

MX_RECORDS = {
    "alice-shop.test": t.HOSTNAME,
    "bob-blog.test": t.HOSTNAME,
    "lab-hosting.test": t.HOSTNAME,
    "remote.test": t.REMOTE_MX_HOST,
    "busy.test": t.BUSY_MX_HOST,
    "slow.test": "mx.slow.test",
    "dead.test": "mx.dead.test",
    "postfix.test": t.POSTFIX_HOST,
    "spf-pass.test": t.REMOTE_MX_HOST,
    "spf-fail.test": t.REMOTE_MX_HOST,
    "spf-softfail.test": t.REMOTE_MX_HOST,
    "spf-neutral.test": t.REMOTE_MX_HOST,
    "spf-permerror.test": t.REMOTE_MX_HOST,
    "spf-temperror.test": t.REMOTE_MX_HOST,
}

A_RECORDS = {
    t.HOSTNAME: t.LOCAL_IP,
    "alice-shop.test": t.LOCAL_IP,
    "bob-blog.test": t.LOCAL_IP,
    t.REMOTE_MX_HOST: t.REMOTE_MX_IP,
    t.BUSY_MX_HOST: t.BUSY_MX_IP,
    "mx.slow.test": t.SLOW_MX_IP,
    "mx.dead.test": t.DEAD_MX_IP,
    t.POSTFIX_HOST: t.POSTFIX_IP,
    t.CLIENT_HOST: t.CLIENT_IP,
    "localhost": "127.0.0.1",
}

PTR_RECORDS = {
    t.LOCAL_IP: t.HOSTNAME,
    t.REMOTE_MX_IP: t.REMOTE_MX_HOST,
    t.BUSY_MX_IP: t.BUSY_MX_HOST,
    t.SLOW_MX_IP: "mx.slow.test",
    t.DEAD_MX_IP: "mx.dead.test",
    t.POSTFIX_IP: t.POSTFIX_HOST,
    t.CLIENT_IP: t.CLIENT_HOST,
    "127.0.0.1": "localhost",
}

NXDOMAIN_DOMAIN = "nxdomain.test"
SERVFAIL_DOMAIN = "servfail.test"


def _ptr_name(ip: str) -> str:
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa."


def _txt_strings(text: str) -> str:
    """TXT character-strings of at most 255 bytes; SPF joins them without a separator."""
    chunks, rest = [], text
    while len(rest) > 250:
        cut = rest.rfind(" ", 0, 250) + 1
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)
    return " ".join(f'"{c}"' for c in chunks)


def render_unbound_conf(workdir: Path) -> str:
    """The whole unbound.conf. TXT data in single quotes: escaped inner quotes would split the string."""
    lines = [
        "server:",
        f"  interface: {t.DNS_IP}",
        "  port: 53",
        "  do-daemonize: no",
        '  username: ""',
        '  chroot: ""',
        f'  directory: "{workdir}"',
        f'  pidfile: "{workdir}/unbound.pid"',
        "  use-syslog: no",
        "  verbosity: 1",
        "  log-queries: yes",
        "  do-ip6: no",
        "  access-control: 0.0.0.0/0 allow",
        '  module-config: "iterator"',
        "  do-not-query-localhost: no",
        # Nothing outside the test zones exists: never try the root servers.
        '  local-zone: "." static',
        '  local-zone: "test." static',
        '  local-zone: "in-addr.arpa." static',
        f'  local-zone: "{NXDOMAIN_DOMAIN}." always_nxdomain',
        f'  local-zone: "{SERVFAIL_DOMAIN}." transparent',
    ]
    data: list[str] = []
    for name, ip in A_RECORDS.items():
        if name == "localhost":
            lines.append('  local-zone: "localhost." static')
        data.append(f"{name}. 300 IN A {ip}")
    for domain, mx in MX_RECORDS.items():
        data.append(f"{domain}. 300 IN MX 10 {mx}.")
    for domain, txt in SPF_RECORDS.items():
        data.append(f"{domain}. 300 IN TXT {_txt_strings(txt)}")
    for n in range(1, 12):
        data.append(f'i{n}.spf-permerror.test. 300 IN TXT "v=spf1 ip4:203.0.113.{n} -all"')
    for ip, name in PTR_RECORDS.items():
        data.append(f"{_ptr_name(ip)} 300 IN PTR {name}.")
    lines += [f"  local-data: '{d}'" for d in data]
    # An authority zone whose primary never answers is "not loaded": with fallback disabled unbound
    # answers SERVFAIL at once (a forward to a dead server would take ten seconds of retries).
    lines += [
        "auth-zone:",
        f'  name: "{SERVFAIL_DOMAIN}."',
        f"  primary: 127.0.0.1@{t.UNUSED_DNS_PORT}",
        "  fallback-enabled: no",
        "  for-downstream: yes",
        "  for-upstream: yes",
        "",
    ]
    return "\n".join(lines)
