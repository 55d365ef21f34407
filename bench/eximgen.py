"""Seeded generator of realistic cPanel-style Exim main logs, with ground truth.

    from bench.eximgen import generate
    truth = generate(Path("mainlog"), messages=2000, seed=1, id_format="mixed", scenario="outbreak")

What it writes (time ordered, like a real log): SMTP connections and their ends, inbound mail
delivered to local mailboxes, outbound mail from SMTP-AUTH logins and from PHP scripts (a `cwd=`
line, then `<= USER@host U=USER P=local`), deliveries with confirmations, deferrals with retries
that later succeed or time out, permanent failures and the bounces they cause (`<= <> R=parent`),
delay warnings, frozen bounces, RCPT rejections, authenticator failures and queue runs.
The log_selector is cPanel's (+arguments +received_recipients +subject +smtp_confirmation ...).

Ground truth is written, one JSON object per message, to `<out>.truth.jsonl` while generating
(memory stays bounded for 1 GB logs). `GroundTruth.messages` holds every message for small logs
and a uniform random sample of `SAMPLE_LIMIT` messages for big ones; `load_truth()` reads all.
The `outbreak` scenario adds a compromised PHP script and a compromised SMTP-AUTH mailbox
(`outbreak_sources`) next to legitimate bulk senders that must not be flagged (`legit_bulk_sources`).

Command line: python -m bench.eximgen OUT [--messages N | --size BYTES] [--seed S] [--ids old|new|mixed]
[--scenario normal|outbreak]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import heapq
import json
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from maildoctor.logs.seek import base62

SAMPLE_LIMIT = 50_000
START = dt.datetime(2026, 11, 1, 0, 0, 0)
HOSTNAME = "server1.hostingco.example"
SERVER_IP = "203.0.113.10"

LOCAL_DOMAINS = ["shop.example", "client.example", "bakery.example", "lawfirm.example", "news.example",
                 "lists.example", "studio.example", "garage.example"]
LOCAL_USERS = {"shop.example": "shop", "client.example": "client", "bakery.example": "bakery",
               "lawfirm.example": "lawfirm", "news.example": "news", "lists.example": "lists",
               "studio.example": "studio", "garage.example": "garage"}
MAILBOXES = ["info", "sales", "john", "mary", "office", "support", "admin", "billing"]
REMOTE_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "gmx.de", "orange.fr", "icloud.com",
                  "aol.com", "mail.ru", "web.de", "comcast.net", "protonmail.com"] + [
    f"company{i}.example" for i in range(60)]
FIRST = ["anna", "bob", "carlos", "diana", "erik", "fatima", "george", "hana", "ivan", "julia", "kim", "li",
         "maria", "noah", "olga", "paul", "quinn", "rosa", "sam", "tara", "uma", "victor", "wei", "yusuf"]
SUBJECTS = ["Invoice {n}", "Re: meeting tomorrow", "Order #{n} confirmed", "Your quote", "Re: Re: photos",
            "Weekly report", "Question about {n}", "Fwd: contract", "Booking {n}", "Hello"]

TEMP_ERRORS = [
    ("451 4.7.1 Greylisted, please try again later", -44),
    ("421 4.7.0 Too many connections from your IP, try again later", -44),
    ("452 4.2.2 Mailbox full", -44),
]
CONNECT_ERRORS = ["Connection timed out", "Connection refused"]
PERM_ERRORS = [
    "550 5.1.1 The email account that you tried to reach does not exist",
    "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table",
    "554 5.7.1 Service unavailable; Client host [203.0.113.10] blocked using zen.spamhaus.org",
    "552 5.2.2 The email account that you tried to reach is over quota",
    "550 5.7.1 Message rejected as spam by Content Filtering.",
]


@dataclass
class MessageTruth:
    id: str
    sender: str
    recipients: dict[str, str]  # address -> delivered | failed | deferred | pending
    final_status: str
    source_kind: str  # smtp | smtp-auth | local | script | bounce
    source_value: str
    received_at: str
    parent: str | None = None
    bounce: str | None = None
    warning: str | None = None


@dataclass
class GroundTruth:
    log_path: str
    truth_path: str
    seed: int
    id_format: str
    scenario: str
    total_messages: int = 0
    total_lines: int = 0
    total_bytes: int = 0
    messages: dict[str, MessageTruth] = field(default_factory=dict)
    outbreak_sources: list[dict[str, Any]] = field(default_factory=list)
    legit_bulk_sources: list[dict[str, Any]] = field(default_factory=list)
    sampled: bool = False

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return d

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: Path) -> GroundTruth:
        d = json.loads(path.read_text())
        d["messages"] = {k: MessageTruth(**v) for k, v in d["messages"].items()}
        return cls(**d)


def load_truth(truth_path: Path) -> Iterator[MessageTruth]:
    """Every message of a generated log (streamed from the .truth.jsonl file)."""
    with open(truth_path) as fh:
        for line in fh:
            yield MessageTruth(**json.loads(line))


@dataclass
class _Msg:
    id: str
    truth: MessageTruth
    pending: int = 0  # events not written yet


class _Gen:
    def __init__(self, out: TextIO, truth_fh: TextIO, seed: int, id_format: str, scenario: str,
                 target_messages: int | None, target_bytes: int | None, truth: GroundTruth) -> None:
        self.rng = random.Random(seed)
        self.out = out
        self.truth_fh = truth_fh
        self.id_format = id_format
        self.scenario = scenario
        self.target_messages = target_messages
        self.target_bytes = target_bytes
        self.gt = truth
        self.heap: list[tuple[dt.datetime, int, str, _Msg | None, str | None, str | None]] = []
        self.seq = 0
        self.counter = 0
        self.now = START
        self.bytes = 0
        self.lines = 0
        self.arrivals = 0
        self.sample_seen = 0
        self.sample_ids: list[str] = []
        self.sample_rng = random.Random(seed + 1)  # separate, so sampling does not change the log
        # a message takes about 780 bytes of log (arrival, deliveries, Completed, noise around it)
        est = target_messages if target_messages is not None else max(1, (target_bytes or 0) // 780)
        self.estimate = est
        self.burst_size = max(300, est // 25)
        self.outbreak_at = int(est * 0.6)
        # Small logs still span about two days, so steady senders look steady; big ones ~2 s apart.
        self.gap = max(2.0, 2 * 86400 / est)

    # --- ids and small helpers -------------------------------------------------------------
    def new_id(self, t: dt.datetime) -> str:
        self.counter += 1
        secs = int((t - dt.datetime(1970, 1, 1)).total_seconds())
        new = self.id_format == "new" or (self.id_format == "mixed" and self.arrivals >= self.estimate // 2)
        if new:
            return f"{base62(secs, 6)}-{base62(self.counter * 7919 + 12345, 11)}-{base62(self.rng.randrange(62**4), 4)}"
        return f"{base62(secs, 6)}-{base62(self.counter * 7919 % 62**6, 6)}-{base62(self.rng.randrange(62**2), 2)}"

    def ip(self) -> str:
        r = self.rng
        return f"{r.choice([45, 62, 77, 81, 91, 103, 109, 141, 176, 185, 188, 193, 212])}.{r.randrange(256)}." \
               f"{r.randrange(256)}.{r.randrange(1, 255)}"

    def remote_addr(self) -> str:
        r = self.rng
        sep = r.choice(["", ".", "_"])
        return f"{r.choice(FIRST)}{sep}{r.choice(FIRST)}{r.randrange(100)}@{r.choice(REMOTE_DOMAINS)}"

    def local_addr(self) -> str:
        d = self.rng.choice(LOCAL_DOMAINS)
        return f"{self.rng.choice(MAILBOXES)}@{d}"

    def mx(self, addr: str) -> tuple[str, str]:
        dom = addr.rsplit("@", 1)[1]
        h = zlib.crc32(dom.encode()) % 250 + 1
        return f"mx{h % 3 + 1}.{dom}", f"198.51.{h % 100}.{h}"

    def subject(self) -> str:
        return self.rng.choice(SUBJECTS).format(n=self.rng.randrange(1000, 99999))

    def ts(self, t: dt.datetime) -> str:
        return t.strftime("%Y-%m-%d %H:%M:%S")

    def emit(self, t: dt.datetime, text: str, msg: _Msg | None = None, rcpt: str | None = None,
             status: str | None = None) -> None:
        self.seq += 1
        if msg is not None:
            msg.pending += 1
        heapq.heappush(self.heap, (t, self.seq, text, msg, rcpt, status))

    def flush(self, until: dt.datetime | None) -> None:
        while self.heap and (until is None or self.heap[0][0] <= until):
            t, _, text, msg, rcpt, status = heapq.heappop(self.heap)
            line = f"{self.ts(t)} {text}\n"
            self.out.write(line)
            self.bytes += len(line)
            self.lines += 1
            if msg is not None:
                if rcpt is not None and status is not None:
                    msg.truth.recipients[rcpt] = status
                msg.pending -= 1
                if msg.pending == 0:
                    self.finish(msg)

    def finish(self, msg: _Msg) -> None:
        tr = msg.truth
        st = set(tr.recipients.values())
        if tr.final_status != "frozen":
            if st <= {"delivered"}:
                tr.final_status = "delivered"
            elif "deferred" in st or "pending" in st:
                tr.final_status = "deferred"
            elif st <= {"failed"}:
                tr.final_status = "failed"
            else:
                tr.final_status = "partial"
        self.truth_fh.write(json.dumps(dataclasses.asdict(tr)) + "\n")
        self.gt.total_messages += 1
        # Reservoir sample keeps memory bounded whatever the log size.
        self.sample_seen += 1
        if len(self.gt.messages) < SAMPLE_LIMIT:
            self.gt.messages[tr.id] = tr
            self.sample_ids.append(tr.id)
        else:
            self.gt.sampled = True
            j = self.sample_rng.randrange(self.sample_seen)
            if j < SAMPLE_LIMIT:
                del self.gt.messages[self.sample_ids[j]]
                self.sample_ids[j] = tr.id
                self.gt.messages[tr.id] = tr

    def done(self) -> bool:
        if self.target_bytes is not None:
            return self.bytes >= self.target_bytes
        return self.arrivals >= (self.target_messages or 0)

    # --- one message -----------------------------------------------------------------------
    def message(self, t: dt.datetime, kind: str, sender: str, rcpts: list[str], value: str,
                fail_rate: float = 0.03, defer_rate: float = 0.06, user: str | None = None,
                cwd: str | None = None, ip: str | None = None, subject: str | None = None,
                parent: _Msg | None = None) -> _Msg:
        r = self.rng
        mid = self.new_id(t)
        self.arrivals += 1
        truth = MessageTruth(mid, sender, dict.fromkeys(rcpts, "pending"), "pending", kind, value, self.ts(t),
                             parent=parent.id if parent else None)
        msg = _Msg(mid, truth)
        size = r.randrange(900, 60000)
        hid = f"{r.randrange(16**12):012x}@{sender.split('@')[-1] or HOSTNAME}"
        subj = (subject or self.subject()).replace('"', "'")
        for_part = " for " + " ".join(rcpts)
        if kind == "script":
            self.emit(t, f"cwd={cwd} 3 args: /usr/sbin/sendmail -t -i", msg)
            self.emit(t, f"{mid} <= {sender} U={user} P=local S={size} id={hid} T=\"{subj}\"{for_part}", msg)
        elif kind == "local":
            self.emit(t, f"{mid} <= {sender} U={user} P=local S={size} id={hid} T=\"{subj}\"{for_part}", msg)
        elif kind == "bounce":
            assert parent is not None
            self.emit(t, f"{mid} <= <> R={parent.id} U=mailnull P=local S={size} T=\"{subj}\"{for_part}", msg)
        elif kind == "smtp-auth":
            port = r.randrange(1024, 65535)
            self.emit(t, f"{mid} <= {sender} H=({r.choice(['DESKTOP-' + str(r.randrange(9999)), 'laptop', 'iPhone'])}) "
                         f"[{ip}]:{port} P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no "
                         f"A=dovecot_login:{value} S={size} id={hid} T=\"{subj}\"{for_part}", msg)
        else:  # inbound smtp
            port = r.randrange(1024, 65535)
            host = f"mail.{sender.split('@')[1]}"
            self.emit(t, f"SMTP connection from {host} [{ip}]:{port} I=[{SERVER_IP}]:25 "
                         f"(TCP/IP connection count = {r.randrange(1, 9)})")
            self.emit(t, f"{mid} <= {sender} H={host} [{ip}]:{port} I=[{SERVER_IP}]:25 P=esmtps "
                         f"X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S={size} id={hid} T=\"{subj}\"{for_part}", msg)
        last = t
        arrival_q = t
        failed: list[str] = []
        for rc in rcpts:
            tt, outcome = self.deliver(msg, rc, t + dt.timedelta(seconds=r.choice([0, 0, 1, 1, 2])), arrival_q,
                                       fail_rate, defer_rate, kind == "bounce")
            last = max(last, tt)
            if outcome == "failed":
                failed.append(rc)
        if kind == "bounce" and failed:
            # A bounce that cannot be delivered is frozen, not bounced again.
            self.emit(last, f"{mid} Frozen (delivery error message)", msg)
            truth.final_status = "frozen"
            return msg
        if failed and sender:
            bt = last + dt.timedelta(seconds=r.choice([0, 1]))
            reason = "Mail delivery failed: returning message to sender"
            b = self.message(bt, "bounce", "", [sender], parent=msg, value=mid, subject=reason,
                             fail_rate=0.15 if kind == "script" else 0.01, defer_rate=0.0)
            truth.bounce = b.id
            last = bt
        self.emit(last + dt.timedelta(seconds=r.choice([0, 0, 1])), f"{mid} Completed", msg)
        return msg

    def deliver(self, msg: _Msg, rc: str, t: dt.datetime, arrived: dt.datetime, fail_rate: float,
                defer_rate: float, is_bounce: bool) -> tuple[dt.datetime, str]:
        r = self.rng
        mid = msg.id
        local = rc.split("@")[-1] in LOCAL_DOMAINS
        x = r.random()
        if local:
            if x < fail_rate / 2:
                self.emit(t, f"{mid} ** {rc} R=virtual_aliases: No such person at this address.", msg, rc, "failed")
                return t, "failed"
            user = LOCAL_USERS[rc.split("@")[1]]
            self.emit(t, f"{mid} => {rc.split('@')[0]} <{rc}> R=virtual_user T=dovecot_virtual_delivery "
                         f"QT={self.qt(t - arrived)} DT=0s", msg, rc, "delivered")
            del user
            return t, "delivered"
        mx, mxip = self.mx(rc)
        route = "R=dkim_lookuphost T=dkim_remote_smtp"
        if x < fail_rate:
            err = r.choice(PERM_ERRORS).format(rcpt=rc)
            self.emit(t + dt.timedelta(seconds=1), f"{mid} ** {rc} {route} H={mx} [{mxip}] "
                      f"X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes: SMTP error from remote mail server "
                      f"after RCPT TO:<{rc}>: {err}", msg, rc, "failed")
            return t + dt.timedelta(seconds=1), "failed"
        if x < fail_rate + defer_rate:
            # Deferred: retried at growing intervals; most succeed, some time out after 4 days.
            tt = t
            give_up = r.random() < 0.25
            tries = r.randrange(2, 6)
            temp, errno = r.choice(TEMP_ERRORS)
            conn = r.random() < 0.4
            for i in range(tries if not give_up else 8):
                if conn:
                    line = f"{mid} == {rc} {route} defer (110): {r.choice(CONNECT_ERRORS)}"
                else:
                    line = (f"{mid} == {rc} {route} defer ({errno}) H={mx} [{mxip}]: SMTP error from remote mail "
                            f"server after RCPT TO:<{rc}>: {temp}")
                self.emit(tt, line, msg, rc, "deferred")
                if i == 1 and r.random() < 0.5:
                    skip = f"{mid} == {rc} {route} defer (-53): retry time not reached"
                    self.emit(tt + dt.timedelta(minutes=5), skip, msg, rc, "deferred")
                tt += dt.timedelta(minutes=15 * (2 ** i), seconds=r.randrange(60))
            if give_up:
                tt = max(tt, arrived + dt.timedelta(days=4, minutes=r.randrange(60)))
                if not is_bounce and msg.truth.sender and r.random() < 0.5:
                    wt = arrived + dt.timedelta(hours=24, minutes=r.randrange(30))
                    wid = self.new_id(wt)
                    self.emit(wt, f"{wid} <= <> R={mid} U=mailnull P=local S=1800 T=\"Warning: message {mid} "
                                  f"delayed 24 hours\" for {msg.truth.sender}")
                    self.emit(wt, f"{wid} => {msg.truth.sender} R=dkim_lookuphost T=dkim_remote_smtp H=mx.example "
                                  f"[198.51.100.2] C=\"250 OK\"")
                    self.emit(wt, f"{wid} Completed")
                    msg.truth.warning = wid
                self.emit(tt, f"{mid} ** {rc} {route}: retry timeout exceeded", msg, rc, "failed")
                return tt, "failed"
            self.emit(tt, f"{mid} => {rc} {route} H={mx} [{mxip}] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes "
                          f"C=\"250 2.0.0 OK {r.randrange(10**9)}\" QT={self.qt(tt - arrived)} DT=1s",
                      msg, rc, "delivered")
            return tt, "delivered"
        self.emit(t + dt.timedelta(seconds=1), f"{mid} => {rc} {route} H={mx} [{mxip}] "
                  f"X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"250 2.0.0 OK {r.randrange(10**9)}\" "
                  f"QT={self.qt(t - arrived + dt.timedelta(seconds=1))} DT=1s", msg, rc, "delivered")
        return t + dt.timedelta(seconds=1), "delivered"

    @staticmethod
    def qt(d: dt.timedelta) -> str:
        s = int(d.total_seconds())
        out = ""
        for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
            if s >= n:
                out += f"{s // n}{unit}"
                s %= n
        return out + f"{s}s"

    # --- background noise --------------------------------------------------------------------
    def noise(self, t: dt.datetime) -> None:
        r = self.rng
        x = r.random()
        ip = self.ip()
        port = r.randrange(1024, 65535)
        if x < 0.3:
            why = r.choice(["relay not permitted", "Sender verify failed",
                            f"JunkMail rejected - {ip} is in an RBL: https://www.spamhaus.org/query/ip/{ip}"])
            self.emit(t, f"H=({r.choice(['User', 'ylmf-pc', 'WIN-' + str(r.randrange(999))])}) [{ip}]:{port} "
                         f"I=[{SERVER_IP}]:25 F=<{self.remote_addr()}> rejected RCPT <{self.local_addr()}>: "
                         f"{why}")
        elif x < 0.5:
            self.emit(t, f"dovecot_login authenticator failed for (User) [{ip}]:{port}: 535 Incorrect authentication "
                         f"data (set_id={self.local_addr()})")
        elif x < 0.7:
            self.emit(t, f"no MAIL in SMTP connection from (User) [{ip}]:{port} I=[{SERVER_IP}]:25 D=0.3s C=EHLO,QUIT")
        elif x < 0.8:
            self.emit(t, f"SMTP connection from [{ip}]:{port} I=[{SERVER_IP}]:25 lost D=21s")
        elif x < 0.9:
            self.emit(t, f"TLS error on connection from (ehlo) [{ip}]:{port} I=[{SERVER_IP}]:465 "
                         f"(SSL_accept): error:0A000126:SSL routines::unexpected eof while reading")
        else:
            pid = r.randrange(1000, 99999)
            self.emit(t, f"Start queue run: pid={pid}")
            self.emit(t + dt.timedelta(seconds=r.randrange(1, 9)), f"End queue run: pid={pid}")

    # --- the run -----------------------------------------------------------------------------
    def run(self) -> None:
        r = self.rng
        outbreak_started = False
        bursts: list[tuple[dt.datetime, str]] = []
        newsletter_next = START + dt.timedelta(hours=2)
        list_next = START + dt.timedelta(minutes=30)
        list_ip = "192.0.2.55"
        out = self.scenario == "outbreak"
        if out:
            self.gt.legit_bulk_sources = [
                {"kind": "script", "value": "/home/news/public_html/newsletter", "user": "news",
                 "sender": "news@news.example", "description": "weekly newsletter, steady, low failure rate"},
                {"kind": "smtp-auth", "value": "list@lists.example", "ip": list_ip,
                 "description": "mailing list, steady, low failure rate"},
            ]
        while not self.done():
            self.now += dt.timedelta(seconds=r.expovariate(1 / self.gap))
            t = self.now
            self.flush(t)
            for _ in range(r.choice([0, 0, 1, 1, 2])):
                self.noise(t)
            self.one_normal(t)
            if out:
                if t >= newsletter_next:
                    for i in range(r.randrange(20, 40)):
                        tt = t + dt.timedelta(seconds=i)
                        self.message(tt, "script", "news@news.example", [self.remote_addr()],
                                     "/home/news/public_html/newsletter", user="news",
                                     cwd="/home/news/public_html/newsletter", fail_rate=0.01, defer_rate=0.02,
                                     subject="News of the week")
                    newsletter_next = t + dt.timedelta(hours=6)
                if t >= list_next:
                    for i in range(r.randrange(5, 15)):
                        self.message(t + dt.timedelta(seconds=i), "smtp-auth", "list@lists.example",
                                     [self.remote_addr() for _ in range(r.randrange(1, 4))], "list@lists.example",
                                     ip=list_ip, fail_rate=0.01, defer_rate=0.02, subject="[list] digest")
                    list_next = t + dt.timedelta(hours=2)
                if not outbreak_started and self.arrivals >= self.outbreak_at:
                    outbreak_started = True
                    bursts = self.plan_outbreak(t)
                while bursts and bursts[0][0] <= t:
                    bt, which = bursts.pop(0)
                    self.outbreak_message(bt, which)
        self.flush(None if self.target_bytes is None else self.now)
        # Messages whose remaining lines fall after the end of the log are still in the queue.
        leftovers = {id(m): m for *_, m, _r, _s in self.heap if m is not None}
        self.heap.clear()
        for m in leftovers.values():
            self.finish(m)

    def one_normal(self, t: dt.datetime) -> None:
        r = self.rng
        x = r.random()
        if x < 0.40:
            sender = self.remote_addr()
            self.message(t, "smtp", sender, [self.local_addr() for _ in range(r.choice([1, 1, 1, 2]))], ip=self.ip(),
                         value="")
        elif x < 0.75:
            sender = self.local_addr()
            ip = f"10.{r.randrange(4)}.{r.randrange(256)}.{r.randrange(1, 255)}" if r.random() < 0.2 else self.ip()
            self.message(t, "smtp-auth", sender, [self.remote_addr() for _ in range(r.choice([1, 1, 2, 3]))],
                         sender, ip=ip)
        elif x < 0.95:
            dom = r.choice(LOCAL_DOMAINS[:4])
            user = LOCAL_USERS[dom]
            cwd = f"/home/{user}/public_html" + r.choice(["", "/contact", "/wp-admin", "/shop/checkout"])
            self.message(t, "script", f"{user}@{HOSTNAME}", [r.choice([self.remote_addr(), self.local_addr()])],
                         cwd, user=user, cwd=cwd)
        else:
            self.message(t, "local", f"root@{HOSTNAME}", [f"admin@{LOCAL_DOMAINS[0]}"], "root", user="root",
                         subject="Cron <root@server1> /usr/local/cpanel/scripts/upcp")

    def plan_outbreak(self, t: dt.datetime) -> list[tuple[dt.datetime, str]]:
        r = self.rng
        n = self.burst_size
        script_start = t
        auth_start = t + dt.timedelta(minutes=40)
        plan = [(script_start + dt.timedelta(seconds=i * 3600 / n), "script") for i in range(n)]
        plan += [(auth_start + dt.timedelta(seconds=i * 5400 / (n // 2)), "auth") for i in range(n // 2)]
        plan.sort()
        self.gt.outbreak_sources = [
            {"kind": "script", "value": "/home/shop/public_html/wp-content/uploads", "user": "shop",
             "script": "/home/shop/public_html/wp-content/uploads/x.php", "sender": f"shop@{HOSTNAME}",
             "start": self.ts(script_start), "end": self.ts(script_start + dt.timedelta(hours=1)), "messages": n},
            {"kind": "smtp-auth", "value": "info@client.example", "start": self.ts(auth_start),
             "end": self.ts(auth_start + dt.timedelta(minutes=90)), "messages": n // 2},
        ]
        self.auth_ips = [self.ip() for _ in range(60)]
        del r
        return plan

    def outbreak_message(self, t: dt.datetime, which: str) -> None:
        r = self.rng
        rcpts = [self.spam_target() for _ in range(r.randrange(1, 6))]
        if which == "script":
            self.message(t, "script", f"shop@{HOSTNAME}", rcpts, "/home/shop/public_html/wp-content/uploads",
                         user="shop", cwd="/home/shop/public_html/wp-content/uploads", fail_rate=0.35,
                         defer_rate=0.3, subject="Your account has been suspended")
        else:
            self.message(t, "smtp-auth", "info@client.example", rcpts, "info@client.example",
                         ip=r.choice(self.auth_ips), fail_rate=0.3, defer_rate=0.3, subject="Payment notice")

    def spam_target(self) -> str:
        r = self.rng
        return f"{r.choice(FIRST)}{r.randrange(10000)}@{r.choice(['spamvictim', 'mailbox', 'corp', 'inbox'])}" \
               f"{r.randrange(3000)}.example"


def generate(out: Path, *, messages: int | None = None, size_bytes: int | None = None, seed: int = 1,
             id_format: str = "old", scenario: str = "normal") -> GroundTruth:
    """Write a realistic Exim main log to `out` and return its ground truth (see module doc)."""
    if id_format not in ("old", "new", "mixed"):
        raise ValueError(f"id_format must be old, new or mixed, not {id_format!r}")
    if scenario not in ("normal", "outbreak"):
        raise ValueError(f"scenario must be normal or outbreak, not {scenario!r}")
    if messages is None and size_bytes is None:
        messages = 2000
    out = Path(out)
    truth_path = out.with_name(out.name + ".truth.jsonl")
    gt = GroundTruth(str(out), str(truth_path), seed, id_format, scenario)
    with open(out, "w", buffering=1 << 20) as fh, open(truth_path, "w", buffering=1 << 20) as tfh:
        g = _Gen(fh, tfh, seed, id_format, scenario, messages if size_bytes is None else None, size_bytes, gt)
        g.run()
    gt.total_lines = g.lines
    gt.total_bytes = g.bytes
    return gt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--messages", type=int)
    ap.add_argument("--size", type=int, help="target size in bytes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ids", default="old", choices=["old", "new", "mixed"])
    ap.add_argument("--scenario", default="normal", choices=["normal", "outbreak"])
    a = ap.parse_args()
    gt = generate(a.out, messages=a.messages, size_bytes=a.size, seed=a.seed, id_format=a.ids, scenario=a.scenario)
    summary = gt.to_json()
    summary["messages"] = f"{len(gt.messages)} in memory"
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
