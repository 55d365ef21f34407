"""pyspf as a peer (tests and bench only): feed it the same zone data through its DNS hook."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import spf

from maildoctor.net.dns import Resolver

LookupFn = Callable[..., Iterator[tuple[tuple[str, str], Any]]]


def pyspf_lookup(resolver: Resolver) -> LookupFn:
    """A `spf.DNSLookup` replacement that answers from RESOLVER (CNAMEs already followed by it)."""

    def lookup(name: str, qtype: str, *args: Any, **kwargs: Any) -> Iterator[tuple[tuple[str, str], Any]]:
        ans = resolver.query(name, qtype)
        if ans.temporary:
            raise spf.TempError(f"DNS {ans.status}")
        out = []
        if qtype in ("TXT", "SPF"):
            for strings in ans.strings:
                out.append(((name, qtype), tuple(s.encode("utf-8") for s in strings)))
        else:
            for rec in ans.records:
                if qtype == "MX":
                    pref, _, host = rec.partition(" ")
                    out.append(((name, qtype), (int(pref), host)))
                else:
                    out.append(((name, qtype), rec))
        return iter(out)

    return lookup


def pyspf_check(resolver: Resolver, ip: str, sender: str, helo: str) -> tuple[str, str]:
    """(result, explanation) from pyspf with DNS answered by RESOLVER."""
    old = spf.DNSLookup
    spf.DNSLookup = pyspf_lookup(resolver)
    try:
        q = spf.query(i=ip, s=sender, h=helo, receiver="receiver.com")
        q.set_default_explanation("DEFAULT")
        res, _code, exp = q.check()
    finally:
        spf.DNSLookup = old
    return {"unknown": "permerror", "error": "temperror"}.get(res, res), exp
