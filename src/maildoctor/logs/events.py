"""The typed event every log format produces, one per line.

Parsers fill what the line has and leave the rest None; fields a format does not know are kept
in `extra`. Engines (trace, outbreak, headers, bounce) read only this type, never raw formats.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field


class EventKind(enum.Enum):
    # message life (Exim flags in comments; Postfix lines map onto the same kinds)
    ARRIVAL = "arrival"  # <=   (Postfix: qmgr from=..., nrcpt=)
    DELIVERY = "delivery"  # =>   (Postfix: status=sent)
    ADDITIONAL = "additional"  # ->
    CUTTHROUGH = "cutthrough"  # >>
    SUPPRESSED = "suppressed"  # *>
    DEFERRAL = "deferral"  # ==   (Postfix: status=deferred)
    FAILURE = "failure"  # **   (Postfix: status=bounced / expired)
    COMPLETED = "completed"  # Completed   (Postfix: removed)
    FROZEN = "frozen"
    UNFROZEN = "unfrozen"
    RETRY_NOT_REACHED = "retry_not_reached"
    RETRY_TIMEOUT = "retry_timeout"
    LOCAL_SUBMISSION = "local_submission"  # cwd=... N args: ...   (Postfix: pickup uid=)
    MESSAGE_INFO = "message_info"  # other per-message lines (Postfix cleanup message-id=, smtpd client=)
    REMOTE_ERROR = "remote_error"  # SMTP error from remote mail server after ...
    # sessions and policy
    CONNECT = "connect"
    DISCONNECT = "disconnect"
    LOST = "lost"
    NO_MAIL = "no_mail"
    REJECT_CONNECTION = "reject_connection"
    REJECT_HELO = "reject_helo"
    REJECT_MAIL = "reject_mail"
    REJECT_RCPT = "reject_rcpt"
    REJECT_DATA = "reject_data"
    REJECT = "reject"  # any other rejection
    AUTH_FAILURE = "auth_failure"
    TLS_ERROR = "tls_error"
    # daemon and housekeeping
    QUEUE_RUN = "queue_run"
    DAEMON = "daemon"
    PANIC = "panic"
    WARNING = "warning"
    CONTINUATION = "continuation"  # reject-log header dump or an untimestamped follow-on line
    OTHER = "other"  # recognised as a valid line of the format, nothing more specific
    UNKNOWN = "unknown"  # not recognised at all


@dataclass(frozen=True, slots=True)
class LogEvent:
    kind: EventKind
    raw: str
    source: str = ""  # file name
    line_no: int = 0  # 1-based
    format: str = ""  # exim | postfix | ...
    time: dt.datetime | None = None  # as logged; aware when the log has a zone
    host: str | None = None  # syslog host name (Postfix)
    program: str | None = None  # postfix/smtpd, exim ...
    pid: int | None = None
    message_id: str | None = None  # Exim id or Postfix queue id
    sender: str | None = None
    recipient: str | None = None
    original_recipient: str | None = None
    router: str | None = None
    transport: str | None = None
    remote_host: str | None = None
    remote_ip: str | None = None
    remote_port: int | None = None
    helo: str | None = None
    smtp_code: int | None = None
    enhanced_status: str | None = None
    diagnostic: str | None = None  # the remote answer or our error text, multi-line joined with \n
    size: int | None = None
    auth_id: str | None = None  # A=login:USER or Postfix sasl_username
    local_user: str | None = None  # U=
    script_path: str | None = None  # cwd= of a local submission
    protocol: str | None = None  # P=
    tls: str | None = None  # X= cipher / TLS protocol
    subject: str | None = None  # T=
    header_message_id: str | None = None  # id= (the Message-ID header, without <>)
    parent_id: str | None = None  # R= of a bounce <= <> line; Postfix: the bounce's queue id
    queue_seconds: float | None = None  # QT=
    delivery_seconds: float | None = None  # DT=
    delays: str | None = None  # Postfix delays=a/b/c/d
    confirmation: str | None = None  # C="..."
    nrcpt: int | None = None
    extra: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def location(self) -> str:
        return f"{self.source}:{self.line_no}" if self.source else str(self.line_no)
