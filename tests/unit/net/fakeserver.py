"""Small SMTP/POP3/IMAP listeners for the port and Outlook tests (run inside a test namespace).

Usage: python fakeserver.py CONFIG.json   (prints "ready" once every listener is bound)
CONFIG: {"cert": PEM, "key": PEM, "listeners": [{"addr", "port", "kind": smtp|pop3|imap|reset|silent,
 "tls": none|starttls|implicit, "log": FILE, "auth": always|after_tls|never, "banner": "220 ...",
 "helo_reject": "550 ..." (answer to a HELO/EHLO name without a dot), "mail_reply": "250 OK",
 "rcpt_reply": "550 ...", "rcpt_reply_auth": "250 OK"}]}
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import sys
import threading
from typing import Any


class Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock: socket.socket = sock
        self.buf = b""

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\r\n")

    def line(self) -> str | None:
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                return None
            self.buf += data
        raw, self.buf = self.buf.split(b"\n", 1)
        return raw.decode("utf-8", "replace").rstrip("\r")

    def wrap(self, ctx: ssl.SSLContext) -> None:
        self.sock = ctx.wrap_socket(self.sock, server_side=True)


def smtp(c: Conn, cfg: dict[str, Any], ctx: ssl.SSLContext | None, tls: bool) -> None:
    banner = cfg.get("banner", "220 fake.test ESMTP ready")
    c.send(banner)
    if not banner.startswith("220"):
        return
    authed = False
    while (line := c.line()) is not None:
        verb = line.split(" ", 1)[0].upper()
        arg = line[len(verb) + 1 :].strip()
        if verb in ("EHLO", "HELO"):
            if cfg.get("helo_reject") and "." not in arg:
                c.send(cfg["helo_reject"])
                continue
            if verb == "HELO":
                c.send("250 fake.test")
                continue
            caps = ["fake.test hello", "SIZE 52428800", "8BITMIME", "PIPELINING"]
            if cfg.get("tls") == "starttls" and not tls:
                caps.append("STARTTLS")
            mode = cfg.get("auth", "always")
            if mode == "always" or (mode == "after_tls" and tls):
                caps.append("AUTH PLAIN LOGIN")
            caps.append("HELP")
            for i, cap in enumerate(caps):
                c.send(f"250{'-' if i < len(caps) - 1 else ' '}{cap}")
        elif verb == "STARTTLS" and ctx is not None and not tls:
            c.send("220 TLS go ahead")
            c.wrap(ctx)
            tls = True
        elif verb == "AUTH":
            authed = True
            c.send("235 Authentication succeeded")
        elif verb == "MAIL":
            c.send(cfg.get("mail_reply", "250 OK"))
        elif verb == "RCPT":
            c.send(cfg.get("rcpt_reply_auth", "250 Accepted") if authed else cfg.get("rcpt_reply", "250 Accepted"))
        elif verb in ("RSET", "NOOP"):
            c.send("250 OK")
        elif verb == "QUIT":
            c.send("221 bye")
            return
        else:
            c.send("500 unrecognized command")


def pop3(c: Conn, cfg: dict[str, Any], ctx: ssl.SSLContext | None, tls: bool) -> None:
    c.send("+OK fake POP3 ready")
    while (line := c.line()) is not None:
        verb = line.split(" ", 1)[0].upper()
        if verb == "CAPA":
            caps = ["+OK", "TOP", "UIDL"]
            if cfg.get("tls") == "starttls" and not tls:
                caps.append("STLS")
            if tls or cfg.get("auth", "always") == "always":
                caps += ["USER", "SASL PLAIN LOGIN"]
            for cap in [*caps, "."]:
                c.send(cap)
        elif verb == "STLS" and ctx is not None and not tls:
            c.send("+OK begin TLS")
            c.wrap(ctx)
            tls = True
        elif verb == "QUIT":
            c.send("+OK bye")
            return
        else:
            c.send("-ERR unknown")


def imap(c: Conn, cfg: dict[str, Any], ctx: ssl.SSLContext | None, tls: bool) -> None:
    c.send("* OK fake IMAP ready")
    while (line := c.line()) is not None:
        tag, _, rest = line.partition(" ")
        verb = rest.split(" ", 1)[0].upper()
        if verb == "CAPABILITY":
            caps = ["IMAP4rev1", "IDLE"]
            if cfg.get("tls") == "starttls" and not tls:
                caps += ["STARTTLS", "LOGINDISABLED"]
            else:
                caps += ["AUTH=PLAIN", "AUTH=LOGIN"]
            c.send("* CAPABILITY " + " ".join(caps))
            c.send(f"{tag} OK done")
        elif verb == "STARTTLS" and ctx is not None and not tls:
            c.send(f"{tag} OK begin TLS")
            c.wrap(ctx)
            tls = True
        elif verb == "LOGOUT":
            c.send("* BYE")
            c.send(f"{tag} OK bye")
            return
        else:
            c.send(f"{tag} BAD unknown")


HANDLERS = {"smtp": smtp, "pop3": pop3, "imap": imap}


def serve(sock: socket.socket, cfg: dict[str, Any], ctx: ssl.SSLContext | None) -> None:
    def handle(conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            if cfg.get("log"):  # record every connection, so tests can prove who was (not) contacted
                with open(cfg["log"], "a") as fh:
                    fh.write(f"{cfg['addr']}:{cfg['port']}\n")
            if cfg["kind"] == "silent":
                conn.recv(1)  # accept, then say nothing until the client gives up
                return
            if cfg["kind"] == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            c = Conn(conn)
            tls = cfg.get("tls") == "implicit"
            if tls and ctx is not None:
                c.wrap(ctx)
            HANDLERS[cfg["kind"]](c, cfg, ctx, tls)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    while True:
        conn, _ = sock.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def main() -> None:
    with open(sys.argv[1]) as fh:
        config = json.load(fh)
    ctx = None
    if config.get("cert"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(config["cert"], config["key"])
    threads = []
    for cfg in config["listeners"]:
        family = socket.AF_INET6 if ":" in cfg["addr"] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((cfg["addr"], cfg["port"]))
        sock.listen(16)
        t = threading.Thread(target=serve, args=(sock, cfg, ctx), daemon=True)
        t.start()
        threads.append(t)
    print("ready", flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
