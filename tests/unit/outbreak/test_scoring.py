"""Scoring on small synthetic logs: a burst against the source's own history, a legitimate
mailing list and a steady newsletter (volume without abuse signs) are never critical."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from maildoctor.model import Severity
from maildoctor.outbreak.fastscan import scan_files
from maildoctor.outbreak.report import analyze_sources

T0 = dt.datetime(2026, 11, 1)


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.n = 0

    def mid(self) -> str:
        self.n += 1
        return f"1tA{self.n:03d}-{self.n:06d}-Ab"[:16] if self.n < 1000 else f"1tB2bC-{self.n:011d}-0Xy1"

    def send(
        self,
        t: dt.datetime,
        sender: str,
        rcpts: list[str],
        fail: int = 0,
        *,
        auth: str | None = None,
        ip: str = "203.0.113.5",
        cwd: str | None = None,
        user: str = "shop",
    ) -> None:
        ts = t.strftime("%Y-%m-%d %H:%M:%S")
        mid = self.mid()
        if cwd:
            self.lines.append(f"{ts} cwd={cwd} 3 args: /usr/sbin/sendmail -t -i")
            how = f"U={user} P=local"
        else:
            how = f"H=(pc) [{ip}]:5000 P=esmtpa A=dovecot_login:{auth or sender}"
        self.lines.append(f'{ts} {mid} <= {sender} {how} S=2000 id=x{self.n}@a T="Hi" for {" ".join(rcpts)}')
        for i, r in enumerate(rcpts):
            if i < fail:
                self.lines.append(
                    f"{ts} {mid} ** {r} R=dnslookup T=remote_smtp H=mx [198.51.100.9]: "
                    f"SMTP error from remote mail server after RCPT TO:<{r}>: 550 5.1.1 unknown"
                )
            else:
                self.lines.append(f'{ts} {mid} => {r} R=dnslookup T=remote_smtp H=mx [198.51.100.9] C="250 OK"')
        self.lines.append(f"{ts} {mid} Completed")

    def write(self, path: Path) -> Path:
        path.write_text("\n".join(self.lines) + "\n")
        return path


def _by_key(path: Path) -> dict[tuple[str, str], object]:
    return {(s.kind, s.value): s for s in analyze_sources(scan_files([str(path)], workers=1), limit=0)}


def test_burst_against_own_history_and_legit_bulk(tmp_path: Path) -> None:
    log = Log()
    contact = "/home/shop/public_html/contact"
    for day in range(6):  # a contact form: two messages a day, then it is abused
        for h in (9, 15):
            log.send(T0 + dt.timedelta(days=day, hours=h), "shop@host.example", ["owner@gmail.example"], cwd=contact)
    spam_start = T0 + dt.timedelta(days=6, hours=3)
    for i in range(600):
        t = spam_start + dt.timedelta(seconds=6 * i)
        rcpts = [f"u{i}x{k}@victim{(i * 7 + k) % 300}.example" for k in range(3)]
        log.send(t, "shop@host.example", rcpts, fail=1, cwd=contact)
    for day in range(7):  # a mailing list: 40 messages of 20 recipients each, every day, clean
        for i in range(40):
            rcpts = [f"m{j}@d{(i + j) % 90}.example" for j in range(20)]
            log.send(
                T0 + dt.timedelta(days=day, hours=10, seconds=10 * i),
                "list@lists.example",
                rcpts,
                ip="192.0.2.55",
                fail=1 if i % 10 == 0 else 0,
            )
    for day in range(7):  # a newsletter script: 300 a day at 08:00, 1% failures
        for i in range(300):
            log.send(
                T0 + dt.timedelta(days=day, hours=8, seconds=5 * i),
                "news@news.example",
                [f"s{i}@d{i % 150}.example"],
                fail=1 if i % 100 == 0 else 0,
                cwd="/home/news/public_html/newsletter",
                user="news",
            )
    src = _by_key(log.write(tmp_path / "mainlog"))
    abused = src[("script", contact)]
    assert abused.severity is Severity.CRITICAL  # type: ignore[attr-defined]
    reasons = {r.id for r in abused.reasons}  # type: ignore[attr-defined]
    assert "burst" in reasons and "failure_ratio_high" in reasons
    for key in [
        ("auth_login", "list@lists.example"),
        ("script", "/home/news/public_html/newsletter"),
        ("sender", "news@news.example"),
        ("local_user", "news"),
    ]:
        assert src[key].severity in (Severity.OK, Severity.INFO), (key, src[key].reasons)  # type: ignore[attr-defined]


def test_stolen_password_used_from_many_ips(tmp_path: Path) -> None:
    log = Log()
    for day in range(5):
        log.send(T0 + dt.timedelta(days=day, hours=9), "info@client.example", ["partner@corp.example"])
    for i in range(400):
        t = T0 + dt.timedelta(days=5, seconds=9 * i)
        log.send(
            t,
            "info@client.example",
            [f"v{i}@spam{i % 200}.example", f"w{i}@spam{(i + 1) % 200}.example"],
            fail=1,
            ip=f"198.51.100.{i % 40 + 1}",
        )
    src = _by_key(log.write(tmp_path / "mainlog"))
    stolen = src[("auth_login", "info@client.example")]
    assert stolen.severity is Severity.CRITICAL  # type: ignore[attr-defined]
    assert stolen.client_ips == 41  # type: ignore[attr-defined]
    assert {"many_client_ips", "burst", "failure_ratio_high"} <= {r.id for r in stolen.reasons}  # type: ignore[attr-defined]
