"""Mail-log engine: formats (one module each), readers, trace and scans.

- `events`: `LogEvent` / `EventKind`, the one typed event every format produces.
- `formats`: the registry (`register_format`, `sniff_format`); `exim` and `postfix` register themselves.
- `exim.parse_line(line)`, `postfix.parse_line(line, year=None)`: one line -> LogEvent, never raising.
- `read`: `iter_events(paths, since, until, problems=)`, `LogReader(paths, ...)` (`.problems`, an
  `InputProblems` list), `default_log_paths(root)`, `rotated_set(path)`; plain/.gz/.bz2/.xz/stdin.
- `scan`: the byte-level prefilter behind trace; `seek`: an Exim id's arrival time -> file offset.
- `trace.trace(query, paths, since, until, limit)` -> `TraceResult` with `MessageStory` objects (`story`).
- `checks`: doctor checks (stuck in retry, frozen, blocklisted).
"""
