from collections.abc import Callable

def scan(
    aggregate: object,
    block: bytes | memoryview,
    lines_before: int,
    slow: Callable[[bytes, bytes, bytes, bytes, bytes, int, int, int], None],
    path: str,
    start: int,
    deferred_filter: bytearray | None = None,
) -> int: ...

DEFERRED_FILTER_BYTES: int
