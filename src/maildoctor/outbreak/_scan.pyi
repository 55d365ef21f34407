from collections.abc import Callable

def scan(
    aggregate: object,
    block: bytes | memoryview,
    lines_before: int,
    slow: Callable[[bytes, bytes, bytes, bytes, bytes, int, int, int], None],
    path: str,
    start: int,
) -> int: ...
