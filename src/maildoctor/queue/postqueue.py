"""Postfix's queue as `postqueue -j` prints it: one JSON object per line (Postfix 3.1+).

`{"queue_name": "deferred", "queue_id": "4F2A11C0E3", "arrival_time": 1528.., "message_size": 1234,
"forced_expire": false, "sender": "a@b", "recipients": [{"address": "x@y", "delay_reason": "..."}]}`
The hold queue is Postfix's equivalent of Exim's frozen messages.
"""

from __future__ import annotations

import json

from maildoctor.queue.model import QueuedMessage, QueueRead


def parse_postqueue_json(text: str, source: str = "postqueue -j") -> QueueRead:
    messages: list[QueuedMessage] = []
    errors: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            qid = str(obj["queue_id"])
            rcpts = obj.get("recipients") or []
            addrs = tuple(str(r.get("address", "")) for r in rcpts if isinstance(r, dict))
            arrival = obj.get("arrival_time")
            size = obj.get("message_size")
            queue = str(obj.get("queue_name", "")) or None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            errors.append(f"{source}:{n}: skipped: not a postqueue -j record ({exc})")
            continue
        messages.append(
            QueuedMessage(
                message_id=qid,
                sender=str(obj.get("sender", "")),
                recipients=addrs,
                pending=addrs,
                arrival=float(arrival) if isinstance(arrival, (int, float)) else None,
                size=int(size) if isinstance(size, (int, float)) else None,
                frozen=queue == "hold",
                queue_name=queue,
                source=source,
            )
        )
    return QueueRead(tuple(messages), tuple(errors), "postqueue", source)
