"""Mergeable per-source statistics over a mail log.

The log is summarised per *signature*: the tuple (script, local user, auth login, client IP,
envelope sender) of each outgoing message. Counts, sums, first/last times, per-bucket histograms
and capped domain sets are kept per signature and rolled up per source at the end. Outcomes
(`=>`, `**`, `==`, Completed) are joined to their message through `inflight` (id -> signature
stats), which only holds messages not yet Completed, so memory follows the queue, not the log.

Every aggregate is built from one chunk of log and two aggregates merge (`merge`, earlier chunk
first): outcomes whose arrival lies in an earlier chunk wait in `orphans` until the merge joins
them. The same object is fed by the byte-level fast path and by the LogEvent path, through the
same `on_*` methods, so both give identical results.

Times are kept as the log's own "YYYY-MM-DD HH:MM:SS" bytes: they sort as they read.
"""

from __future__ import annotations

from typing import Any

# Stats list layout (lists, not objects: millions of updates and cheap pickling).
MSGS, RCPTS, BYTES, DELIVERED, FAILED, DEFERRED, FIRST, LAST, HIST, DOMAINS, EVIDENCE, FAIL_EVIDENCE, IPS = range(13)
DOMAIN_CAP = 1000  # distinct recipient domains kept per signature ("1000+")
IP_CAP = 1000  # distinct client IPs kept per signature
# Client IPs of authenticated mail are counted in a light side table (a stolen password is used
# from thousands of IPs; a signature per IP would cost memory per IP). Past IP_TABLE_CAP entries the
# IPs seen once are dropped: they cannot be a heavy sender (a top-k approximation, mergeable).
IP_TABLE_CAP = 200_000
IP_MSGS, IP_FIRST, IP_LAST, IP_HIST = range(4)
EVIDENCE_PER_SIG = 2
ORPHAN_RCPT_CAP = 20
CWD_IGNORE = (b"/var/spool/exim", b"/var/spool/exim4")

Sig = tuple[bytes | None, bytes | None, bytes | None, bytes | None, bytes]
Stats = list[Any]
EvidenceRef = tuple[str, int, int, str]  # (path, chunk start offset, line number in chunk, text)


def new_stats() -> Stats:
    return [0, 0, 0, 0, 0, 0, b"", b"", {}, set(), [], [], {}]


_INTERNAL_V4 = (b"127.", b"10.", b"192.168.", *(b"172.%d." % i for i in range(16, 32)))


def is_internal_ip(ip: bytes) -> bool:
    """Loopback and RFC 1918/4193 space: hosts a server relays for without authentication.
    (Plain prefix tests: ipaddress is far too slow for every inbound client of a big log.)"""
    if b":" in ip:
        low = ip.lower()
        return low in (b"::1", b"0:0:0:0:0:0:0:1") or low.startswith((b"fc", b"fd", b"::ffff:127.", b"::ffff:10."))
    return ip.startswith(_INTERNAL_V4)


def domain_of(rcpt: bytes) -> bytes:
    return rcpt[rcpt.rfind(b"@") + 1 :].lower().rstrip(b">")


def outcome_recipient(rest: bytes) -> bytes:
    """The recipient of a `=>`/`**`/`==` line body: `<orig>` when logged as `local <orig@dom>`."""
    parts = rest.split(b" ", 3)
    rcpt = parts[1] if len(parts) > 1 else b""
    if len(parts) > 2 and parts[2].startswith(b"<") and parts[2].endswith(b">") and b"@" not in rcpt:
        rcpt = parts[2][1:-1]
    return rcpt.rstrip(b":")


class Aggregate:
    """Partial statistics of one chunk of log (or of several, merged)."""

    def __init__(self, bucket_chars: int = 13) -> None:
        self.bucket_chars = bucket_chars  # 13: hourly buckets "YYYY-MM-DD HH"; 16: per minute
        self.sigs: dict[Sig, Stats] = {}
        self.inflight: dict[bytes, Stats] = {}
        self.deferred_ids: set[bytes] = set()
        self.orphans: dict[bytes, list[Any]] = {}
        self.backscatter: dict[bytes, int] = {}  # our address -> bounces that came back to it
        self.arrivals: dict[bytes, list[int]] = {}  # bucket -> [messages, bytes] (all mail)
        self.completions: dict[bytes, int] = {}
        self.lines = 0
        self.first = b""
        self.last = b""
        self.chunk_lines: dict[tuple[str, int], int] = {}
        self._cwd_by_pid: dict[bytes, tuple[bytes, bytes, bytes]] = {}
        self._last_cwd: tuple[bytes, bytes, bytes] | None = None
        # Messages that are not outgoing (mail from the internet to local users) share one sink,
        # inbound bounces another (their recipients are the backscatter).
        self.client_ips: dict[bytes, list[Any]] = {}  # ip -> [messages, first, last, hist or None]
        self.inbound: Stats = new_stats()
        self.bounce_in: Stats = new_stats()

    # -- the per-line interface, shared by the fast path and the event path --------------------

    def on_cwd(self, ts: bytes, pid: bytes, path: bytes) -> None:
        if path.startswith(CWD_IGNORE):
            return
        # The same process logs cwd= and then <=: match by pid when the log has pids, else the
        # last cwd= of the same minute. cwd= lines of commands that send nothing are dropped.
        cwd = (ts, path, pid)
        self._last_cwd = cwd
        if pid:
            if len(self._cwd_by_pid) > 10000:
                self._cwd_by_pid.clear()
            self._cwd_by_pid[pid] = cwd

    def on_arrival(
        self,
        ts: bytes,
        pid: bytes,
        mid: bytes,
        sender: bytes,
        ip: bytes | None,
        user: bytes | None,
        auth: bytes | None,
        size: int,
        rcpts: list[bytes] | None,
    ) -> Stats | None:
        """Count one `<=` line. Returns the stats list when it wants this line as evidence."""
        bucket = ts[: self.bucket_chars]
        arr = self.arrivals.get(bucket)
        if arr is None:
            self.arrivals[bucket] = [1, size]
        else:
            arr[0] += 1
            arr[1] += size
        script = None
        if ip is None:
            cwd = self._cwd_by_pid.pop(pid, None) if pid else None
            if cwd is None and self._last_cwd is not None and self._last_cwd[0][:16] == ts[:16]:
                cwd = self._last_cwd
            if cwd is not None:
                script = cwd[1]
                if cwd[2]:
                    self._cwd_by_pid.pop(cwd[2], None)
                if self._last_cwd is cwd:
                    self._last_cwd = None
        if sender == b"<>" or sender == b"":
            sink = self.bounce_in if ip is not None and auth is None else self.inbound
            self.inflight[mid] = sink
            if sink is self.bounce_in and rcpts:
                for r in rcpts:
                    key = r.lower()
                    self.backscatter[key] = self.backscatter.get(key, 0) + 1
                self.inflight[mid] = self.inbound  # counted here, not again on delivery
            return None
        if auth is None and ip is not None and not is_internal_ip(ip):
            self.inflight[mid] = self.inbound
            return None
        sig: Sig = (script, None if ip is not None else user, auth, ip if auth is None else None, sender.lower())
        st = self.sigs.get(sig)
        if st is None:
            st = self.sigs[sig] = new_stats()
            st[FIRST] = ts
        if auth is not None and ip is not None:
            self._count_ip(ip, ts, bucket)
            ips = st[IPS]
            if ip in ips or len(ips) < IP_CAP:
                ips[ip] = ips.get(ip, 0) + 1
        st[MSGS] += 1
        st[BYTES] += size
        st[LAST] = ts
        hist = st[HIST]
        hist[bucket] = hist.get(bucket, 0) + 1
        if rcpts:
            st[RCPTS] += len(rcpts)
            doms = st[DOMAINS]
            if len(doms) < DOMAIN_CAP:
                doms.update([r[r.rfind(b"@") + 1 :].lower() for r in rcpts])
        self.inflight[mid] = st
        return st if len(st[EVIDENCE]) < EVIDENCE_PER_SIG else None

    def _count_ip(self, ip: bytes, ts: bytes, bucket: bytes) -> None:
        row = self.client_ips.get(ip)
        if row is None:
            if len(self.client_ips) >= IP_TABLE_CAP:
                self.client_ips = {k: v for k, v in self.client_ips.items() if v[IP_MSGS] > 1}
            self.client_ips[ip] = [1, ts, ts, None]
            return
        row[IP_MSGS] += 1
        row[IP_LAST] = ts
        hist = row[IP_HIST]
        if hist is None:
            hist = row[IP_HIST] = {row[IP_FIRST][: self.bucket_chars]: 1}
            hist[bucket] = hist.get(bucket, 0) + 1
        else:
            hist[bucket] = hist.get(bucket, 0) + 1

    def on_outcome(self, mid: bytes, flag: bytes, rest: bytes) -> Stats | None:
        """Count one `=>`/`->`/`**`/`==` line (`rest`: the text after the flag, starting with a space).

        Returns the stats when it wants this failure line as evidence."""
        st = self.inflight.get(mid)
        if st is None:
            orphan = self.orphans.get(mid)
            if orphan is None:
                orphan = self.orphans[mid] = [0, 0, 0, 0, []]
            if flag == b"**":
                orphan[1] += 1
            elif flag == b"==":
                orphan[2] += 1
            else:
                orphan[0] += 1
            if len(orphan[4]) < ORPHAN_RCPT_CAP:
                orphan[4].append(outcome_recipient(rest))
            return None
        if st is self.inbound:
            return None
        if st is self.bounce_in:
            if flag != b"==":
                key = outcome_recipient(rest).lower()
                self.backscatter[key] = self.backscatter.get(key, 0) + 1
            return None
        if flag == b"==":
            if mid not in self.deferred_ids:
                self.deferred_ids.add(mid)
                st[DEFERRED] += 1
            return None
        if flag == b"**":
            st[FAILED] += 1
        else:
            st[DELIVERED] += 1
        doms = st[DOMAINS]
        if not st[RCPTS] and len(doms) < DOMAIN_CAP:
            # The arrival had no 'for' list (log_selector without +received_recipients).
            doms.add(domain_of(outcome_recipient(rest)))
        return st if flag == b"**" and len(st[FAIL_EVIDENCE]) < EVIDENCE_PER_SIG else None

    def on_orphan_completed(self, mid: bytes) -> None:
        orphan = self.orphans.get(mid)
        if orphan is None:
            self.orphans[mid] = [0, 0, 0, 1, []]
        else:
            orphan[3] = 1

    def on_completed(self, ts: bytes, mid: bytes) -> None:
        bucket = ts[: self.bucket_chars]
        self.completions[bucket] = self.completions.get(bucket, 0) + 1
        if self.inflight.pop(mid, None) is None:
            self.on_orphan_completed(mid)
        self.deferred_ids.discard(mid)

    def note_span(self, path: str, start: int, lines: int, first: bytes, last: bytes) -> None:
        """Record how many lines a chunk had (evidence line numbers) and its time span."""
        self.chunk_lines[(path, start)] = self.chunk_lines.get((path, start), 0) + lines
        self.lines += lines
        if first and (not self.first or first < self.first):
            self.first = first
        if last and last > self.last:
            self.last = last

    # -- merging -------------------------------------------------------------------------------

    def merge(self, later: Aggregate) -> Aggregate:
        """Fold a later chunk's aggregate into this one (in place; returns self)."""
        remap: dict[int, Stats] = {id(later.inbound): self.inbound, id(later.bounce_in): self.bounce_in}
        for sig, st in later.sigs.items():
            mine = self.sigs.get(sig)
            if mine is None:
                self.sigs[sig] = st
                continue
            merge_stats(mine, st)
            remap[id(st)] = mine
        for mid, orphan in later.orphans.items():
            target = self.inflight.get(mid)
            if target is None:
                prev = self.orphans.get(mid)
                if prev is None:
                    self.orphans[mid] = orphan
                else:
                    for i in range(4):
                        prev[i] = max(prev[i], orphan[i]) if i == 3 else prev[i] + orphan[i]
                    prev[4].extend(orphan[4][: ORPHAN_RCPT_CAP - len(prev[4])])
                continue
            self._apply_orphan(mid, target, orphan)
        for mid, st in later.inflight.items():
            self.inflight[mid] = remap.get(id(st), st)
        self.deferred_ids |= later.deferred_ids
        for ip, row in later.client_ips.items():
            mine_row = self.client_ips.get(ip)
            if mine_row is None:
                self.client_ips[ip] = row
                continue
            hist = ip_hist(mine_row, self.bucket_chars)
            _add_counts(hist, ip_hist(row, self.bucket_chars))
            mine_row[IP_HIST] = hist
            mine_row[IP_MSGS] += row[IP_MSGS]
            mine_row[IP_FIRST] = min(mine_row[IP_FIRST], row[IP_FIRST])
            mine_row[IP_LAST] = max(mine_row[IP_LAST], row[IP_LAST])
        _add_counts(self.backscatter, later.backscatter)
        for bucket, (n, size) in later.arrivals.items():
            arr = self.arrivals.setdefault(bucket, [0, 0])
            arr[0] += n
            arr[1] += size
        _add_counts(self.completions, later.completions)
        for key, n in later.chunk_lines.items():
            self.chunk_lines[key] = self.chunk_lines.get(key, 0) + n
        self.lines += later.lines
        if later.first and (not self.first or later.first < self.first):
            self.first = later.first
        self.last = max(self.last, later.last)
        return self

    def _apply_orphan(self, mid: bytes, st: Stats, orphan: list[Any]) -> None:
        delivered, failed, deferred, completed, rcpts = orphan
        if st is self.bounce_in:
            for r in rcpts:
                self.backscatter[r.lower()] = self.backscatter.get(r.lower(), 0) + 1
        elif st is not self.inbound:
            st[DELIVERED] += delivered
            st[FAILED] += failed
            if deferred and mid not in self.deferred_ids:
                st[DEFERRED] += 1
                self.deferred_ids.add(mid)
            doms = st[DOMAINS]
            for r in rcpts:
                if len(doms) < DOMAIN_CAP:
                    doms.add(domain_of(r))
        if completed:
            self.inflight.pop(mid, None)
            self.deferred_ids.discard(mid)


def ip_hist(row: list[Any], bucket_chars: int) -> dict[bytes, int]:
    """The per-bucket counts of a client IP row (a row seen once keeps no histogram)."""
    hist = row[IP_HIST]
    return dict(hist) if hist is not None else {row[IP_FIRST][:bucket_chars]: row[IP_MSGS]}


def merge_stats(into: Stats, other: Stats) -> None:
    for i in (MSGS, RCPTS, BYTES, DELIVERED, FAILED, DEFERRED):
        into[i] += other[i]
    if other[FIRST] and (not into[FIRST] or other[FIRST] < into[FIRST]):
        into[FIRST] = other[FIRST]
    into[LAST] = max(into[LAST], other[LAST])
    _add_counts(into[HIST], other[HIST])
    doms = into[DOMAINS]
    for d in other[DOMAINS]:
        if len(doms) >= DOMAIN_CAP:
            break
        doms.add(d)
    into[EVIDENCE] = (into[EVIDENCE] + other[EVIDENCE])[:EVIDENCE_PER_SIG]
    into[FAIL_EVIDENCE] = (into[FAIL_EVIDENCE] + other[FAIL_EVIDENCE])[:EVIDENCE_PER_SIG]
    ips = into[IPS]
    for ip, n in other[IPS].items():
        if ip in ips or len(ips) < IP_CAP:
            ips[ip] = ips.get(ip, 0) + n


def _add_counts(into: dict[bytes, int], other: dict[bytes, int]) -> None:
    for k, n in other.items():
        into[k] = into.get(k, 0) + n
