"""Static checks of a pipe target (``|/usr/local/bin/php -q /home/user/script.php``).

`read_pipe_facts` looks at the files under the root (never runs anything); `analyze_pipe` turns
the facts into findings. The checks follow what Exim's pipe transport does: it splits the
command into arguments itself (no shell), looks up a relative command in its path
(/bin:/usr/bin), execs it as the account's uid, feeds the message on stdin and, with cPanel's
``return_output``, fails the delivery if anything is printed.
"""

from __future__ import annotations

import re
import shlex
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from maildoctor.forwarders.texts import make_finding
from maildoctor.model import Evidence, Finding
from maildoctor.server.accounts import Account
from maildoctor.server.aliases import under

PIPE_PATH = ("/bin", "/usr/bin")  # Exim's pipe transport default `path`
_INTERPRETER = re.compile(r"^(php(-cgi)?[\d.]*|perl[\d.]*|python[\d.]*|ruby[\d.]*|node|bash|sh|dash|zsh|ksh)$")
_SCRIPT_EXT = re.compile(r"\.(php\d?|phtml|pl|py|rb|sh|cgi|js)$", re.IGNORECASE)
_OPTION_WITH_VALUE = {"-c", "-d", "-f", "-n", "-z", "-I", "-M", "-W", "-X"}  # php/perl/python options taking a value
MAX_SCRIPT_BYTES = 2_000_000


@dataclass(frozen=True, slots=True)
class FileFacts:
    server_path: str
    path: Path  # under the root
    exists: bool
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    head: bytes = b""  # the first bytes (shebang, BOM, text before <?php)
    text: str = ""  # the content when it is a reasonably small text file
    error: str = ""


@dataclass(frozen=True, slots=True)
class PipeFacts:
    command: str
    argv: tuple[str, ...]
    program: FileFacts | None  # argv[0] resolved (None when a relative name is not in the path)
    interpreter: str | None  # the interpreter named in the command (php, perl...), else None
    script: FileFacts | None  # the script file (argv[0] itself when run directly)
    runs_directly: bool  # argv[0] is the script: the kernel needs the x bit and a good #! line
    shebang_target: FileFacts | None = None  # the interpreter named by #! (when run directly)


def split_pipe_command(command: str) -> tuple[str, ...]:
    """Arguments the way Exim's pipe transport splits them (white space, quotes honoured)."""
    try:
        return tuple(shlex.split(command))
    except ValueError:
        return tuple(command.split())


def read_file_facts(root: Path, server_path: str) -> FileFacts:
    path = under(root, server_path)
    try:
        st = path.stat()
    except FileNotFoundError:
        return FileFacts(server_path, path, False)
    except OSError as exc:
        return FileFacts(server_path, path, False, error=str(exc))
    head, text, error = b"", "", ""
    if stat.S_ISREG(st.st_mode):
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_SCRIPT_BYTES)
            head = data[:512]
            if b"\x00" not in data[:4096]:
                text = data.decode("utf-8", errors="replace")
        except OSError as exc:
            error = str(exc)
    return FileFacts(server_path, path, True, st.st_mode, st.st_uid, st.st_gid, head, text, error)


def _resolve_program(root: Path, name: str) -> FileFacts | None:
    if name.startswith("/"):
        return read_file_facts(root, name)
    for d in PIPE_PATH:
        facts = read_file_facts(root, f"{d}/{name}")
        if facts.exists:
            return facts
    return None


def _script_arg(argv: Sequence[str]) -> str | None:
    """The script an interpreter is given: the first non-option argument."""
    skip = False
    for arg in argv[1:]:
        if skip:
            skip = False
            continue
        if arg in _OPTION_WITH_VALUE:
            skip = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def shebang_interpreter(head: bytes) -> str | None:
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0]
    words = line.decode("utf-8", errors="replace").strip(" \t").split()
    return words[0] if words else ""


def read_pipe_facts(root: Path, command: str) -> PipeFacts:
    argv = split_pipe_command(command)
    if not argv:
        return PipeFacts(command, argv, None, None, None, False)
    prog_name = argv[0]
    program = _resolve_program(root, prog_name)
    base = prog_name.rsplit("/", 1)[-1]
    is_interp = bool(_INTERPRETER.match(base))
    if not is_interp and program is not None and program.exists:
        # A binary program (procmail, a compiled helper) is not a script; a text file is.
        is_interp = program.head[:4] == b"\x7fELF" and not _SCRIPT_EXT.search(base)
        if is_interp and _script_arg(argv) is None:
            return PipeFacts(command, argv, program, None, None, False)
    if is_interp:
        script_arg = _script_arg(argv)
        script = read_file_facts(root, script_arg) if script_arg and script_arg.startswith("/") else None
        return PipeFacts(command, argv, program, prog_name, script, False)
    shebang = None
    if program is not None and program.exists:
        target = shebang_interpreter(program.head)
        if target and target.startswith("/"):
            shebang = read_file_facts(root, target.rstrip("\r"))
    return PipeFacts(command, argv, program, None, program, True, shebang)


# --- analysis ---------------------------------------------------------------------------------


def _mode(m: int | None) -> str:
    return oct(stat.S_IMODE(m))[2:].zfill(4) if m is not None else "?"


def can(facts: FileFacts, acct: Account | None, want: int) -> bool:
    """Would `acct` get permission `want` (4 read, 1 exec) on the file, by its mode bits?"""
    if facts.mode is None:
        return False
    mode = stat.S_IMODE(facts.mode)
    if acct is None or acct.uid is None:
        return bool(mode & (want << 6 | want << 3 | want))
    if acct.uid == 0:
        return want != 1 or bool(mode & 0o111)
    if facts.uid == acct.uid:
        return bool(mode & (want << 6))
    if facts.gid is not None and facts.gid == acct.gid:
        return bool(mode & (want << 3))
    return bool(mode & want)


def _alternatives(root: Path, name: str) -> list[str]:
    base = name.rsplit("/", 1)[-1]
    found = []
    for d in ("/usr/local/bin", "/usr/bin", "/bin"):
        if f"{d}/{base}" != name and under(root, f"{d}/{base}").is_file():
            found.append(f"{d}/{base}")
    if base.startswith("php"):
        cp = under(root, "/opt/cpanel")
        if cp.is_dir():
            for p in sorted(cp.glob("ea-php*/root/usr/bin/php")):
                found.append("/" + str(p.relative_to(root)))
    return found


_PHP_OUTPUT = re.compile(r"^\s*(echo|print|printf|print_r|var_dump|var_export|phpinfo)\b", re.MULTILINE)
_SH_OUTPUT = re.compile(r"^\s*(echo|printf|cat)\b(?![^\n#]*>\s*(/dev/null|[^&\s]))", re.MULTILINE)
_PY_OUTPUT = re.compile(r"^\s*print\s*\(", re.MULTILINE)
_PL_OUTPUT = re.compile(r"^\s*(print|printf|say)\b(?!\s+(LOG|FH|\$\w+|\{))", re.MULTILINE)


def output_hints(facts: PipeFacts) -> list[tuple[int, str]]:
    """(line, reason) for things in the script that print output (a heuristic, not proof)."""
    script = facts.script
    if script is None or not script.text:
        return []
    text = script.text
    hints: list[tuple[int, str]] = []
    interp = (facts.interpreter or shebang_interpreter(script.head) or "").rsplit("/", 1)[-1]
    is_php = interp.startswith("php") or script.server_path.endswith(".php")
    if is_php:
        body = text
        if body.startswith("#!"):
            body = body.split("\n", 1)[1] if "\n" in body else ""
        pos = body.find("<?")
        before = body[:pos] if pos >= 0 else ""
        if before:
            hints.append((1, f"{len(before.encode())} byte(s) before '<?php' are printed"))
        end = text.rfind("?>")
        if end >= 0 and text.find("<?", end) < 0:
            tail = text[end + 2 :]
            if tail not in ("", "\n", "\r\n"):
                hints.append((text.count("\n", 0, end) + 1, f"{len(tail.encode())} byte(s) after the closing '?>'"))
        if interp.startswith("php-cgi") and "-q" not in facts.argv:
            hints.append((0, "php-cgi without -q prints HTTP headers"))
        pattern = _PHP_OUTPUT
    elif interp in ("sh", "bash", "dash", "zsh", "ksh") or script.server_path.endswith(".sh"):
        pattern = _SH_OUTPUT
    elif interp.startswith("python") or script.server_path.endswith(".py"):
        pattern = _PY_OUTPUT
    elif interp.startswith("perl") or script.server_path.endswith(".pl"):
        pattern = _PL_OUTPUT
    else:
        return hints
    for m in pattern.finditer(text):
        line_no = text.count("\n", 0, m.start()) + 1
        line = text.splitlines()[line_no - 1].strip()
        hints.append((line_no, f"'{line[:80]}'"))
    return hints


def has_system_binaries(root: Path) -> bool:
    """A snapshot of only etc/var/home cannot tell whether an interpreter exists; a full root can."""
    return any(under(root, d).is_dir() for d in ("/bin", "/usr/bin", "/usr/local/bin"))


def owners_trusted(root: Path, acct: Account | None) -> bool:
    """On a live server file owners are real; in a copied snapshot only if the home kept its owner."""
    if root.resolve() == Path("/") or acct is None:
        return True
    try:
        return under(root, acct.home).stat().st_uid == acct.uid
    except OSError:
        return False


def analyze_pipe(
    root: Path,
    facts: PipeFacts,
    acct: Account | None,
    address: str,
    where: Evidence,
    trust_owners: bool = True,
) -> list[Finding]:
    """Findings for one pipe target; `where` is the alias line that defines it.

    With trust_owners False (a copied snapshot whose files all belong to whoever copied them)
    ownership is not judged and permissions are read as if the account owned the script.
    """
    file, line = where.source, where.line
    account = acct.name if acct else "the account"
    uid = acct.uid if acct and acct.uid is not None else "?"
    common: dict[str, Any] = {
        "address": address,
        "file": file,
        "line": line,
        "command": facts.command,
        "account": account,
        "uid": uid,
    }
    out: list[Finding] = []
    prog = facts.program
    if not facts.argv:
        return out
    system = has_system_binaries(root)
    if prog is None and system:
        alts = _alternatives(root, facts.argv[0])
        return [
            make_finding(
                "forwarders.pipe_command_not_found",
                [where],
                address,
                program=facts.argv[0],
                suggested=" ".join([alts[0] if alts else f"/usr/bin/{facts.argv[0]}", *facts.argv[1:]]),
                **common,
            )
        ]
    if prog is not None and facts.interpreter is not None and not prog.exists and system:
        alts = _alternatives(root, facts.argv[0])
        suggested = alts[0] if alts else "/usr/bin/php"
        new_cmd = " ".join([suggested, *facts.argv[1:]])
        alt_text = f" Interpreters that do exist: {', '.join(alts)}." if alts else ""
        out.append(
            make_finding(
                "forwarders.pipe_interpreter_missing",
                [where, Evidence("file", f"{prog.server_path}: no such file", prog.server_path)],
                address,
                interpreter=prog.server_path,
                alternatives=alts,
                alternatives_text=alt_text,
                suggested=new_cmd if alts else f"|{new_cmd} (install the interpreter or correct the path)",
                suggested_command=new_cmd,
                **common,
            )
        )
    script = facts.script
    if script is None:
        return out
    sfields: dict[str, Any] = {**common, "script": script.server_path, "mode": _mode(script.mode), "owner": script.uid}
    if not script.exists:
        bounce = (
            "Exim's exec fails: 'Child process of address_pipe transport returned 127'"
            if facts.runs_directly
            else "the interpreter exits with an error, e.g. PHP's 'Could not open input file' and exit code 1"
        )
        out.append(
            make_finding(
                "forwarders.pipe_script_missing",
                [where, Evidence("file", f"{script.server_path}: no such file", script.server_path)],
                address,
                bounce=bounce,
                **sfields,
            )
        )
        return out
    ev_mode = Evidence("file", f"{script.server_path}: mode {_mode(script.mode)} uid {script.uid}", script.server_path)
    if not trust_owners and acct is not None:
        script = replace(script, uid=acct.uid, gid=acct.gid)
    if not can(script, acct, 4):
        out.append(make_finding("forwarders.pipe_script_unreadable", [where, ev_mode], address, **sfields))
    if facts.runs_directly:
        if not can(script, acct, 1):
            out.append(
                make_finding(
                    "forwarders.pipe_not_executable",
                    [where, ev_mode],
                    address,
                    interpreter_hint=_guess_interpreter(root, script),
                    **sfields,
                )
            )
        problem = _shebang_problem(root, facts)
        if problem:
            short, detail, fix = problem
            first = script.head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
            out.append(
                make_finding(
                    "forwarders.pipe_bad_shebang",
                    [where, Evidence("file", repr(first), script.server_path, 1)],
                    address,
                    problem=short,
                    detail=detail,
                    shebang_fix=fix,
                    **sfields,
                )
            )
    crlf = script.text.count("\r\n") if script.text else 0
    if crlf:
        first_crlf = script.text[: script.text.find("\r\n")].count("\n") + 1
        ev = Evidence("file", f"line ends in CR LF ({crlf} such lines)", script.server_path, first_crlf)
        out.append(make_finding("forwarders.pipe_crlf", [where, ev], address, crlf_lines=crlf, **sfields))
    if trust_owners and acct is not None and acct.uid is not None and script.uid is not None and script.uid != acct.uid:
        out.append(make_finding("forwarders.pipe_owner", [where, ev_mode], address, **sfields))
    hints = output_hints(facts)
    if hints:
        evs = [where] + [Evidence("file", h, script.server_path, n or None) for n, h in hints[:5]]
        hint = "; ".join(f"line {n}: {h}" if n else h for n, h in hints[:3])
        out.append(
            make_finding(
                "forwarders.pipe_output",
                evs,
                address,
                hint=hint,
                hint_fix="delete stray text around <?php ... ?>, drop echo/print statements",
                **sfields,
            )
        )
    return out


def _guess_interpreter(root: Path, script: FileFacts) -> str:
    name = script.server_path
    if name.endswith(".php"):
        alts = [p for p in ("/usr/local/bin/php", "/usr/bin/php") if under(root, p).is_file()]
        return alts[0] if alts else "/usr/bin/php"
    if name.endswith(".pl"):
        return "/usr/bin/perl"
    if name.endswith(".py"):
        return "/usr/bin/python3"
    return "/bin/sh"


def _shebang_problem(root: Path, facts: PipeFacts) -> tuple[str, str, str] | None:
    script = facts.script
    if script is None or not script.head:
        return None
    head = script.head
    guess = _guess_interpreter(root, script)
    if head.startswith(b"\xef\xbb\xbf"):
        return (
            "a UTF-8 byte-order mark before #!",
            "The file starts with a byte-order mark, so the kernel does not see '#!'.",
            f"Remove the BOM: sed -i '1s/^\\xEF\\xBB\\xBF//' {script.server_path}",
        )
    if not head.startswith(b"#!"):
        return (
            "no #! line",
            "The file has no '#!' line, so the kernel cannot execute it (Exim does not use a shell).",
            f"Add '#!{guess}' as the first line, or name the interpreter in the forwarder: "
            f"|{guess} {script.server_path}",
        )
    target = shebang_interpreter(head) or ""
    first_line = head.split(b"\n", 1)[0]
    if first_line.endswith(b"\r"):
        return (
            "CR at the end of the #! line",
            f"The #! line ends in a carriage return, so the kernel looks for '{target.rstrip(chr(13))}\\r', "
            "which does not exist ('bad interpreter: No such file or directory').",
            f"sed -i 's/\\r$//' {script.server_path}",
        )
    if not target.startswith("/"):
        return (
            f"relative interpreter '{target}'",
            "The kernel needs an absolute path after '#!'.",
            f"Use '#!{guess}' as the first line.",
        )
    if facts.shebang_target is not None and not facts.shebang_target.exists and has_system_binaries(root):
        alts = _alternatives(root, target)
        better = alts[0] if alts else guess
        return (
            f"{target} does not exist",
            f"The #! line names {target}, which is not on this server.",
            f"Change the first line to '#!{better}'.",
        )
    return None
