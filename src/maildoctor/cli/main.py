"""Entry point: builds the click group from the command modules and enforces the error contract.

Every failure becomes one line on stderr and an exit code (2 bad usage or input, 3 could not
run); a traceback is shown only with MAILDOCTOR_DEBUG=1.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import click

from maildoctor import __version__
from maildoctor.errors import MaildoctorError

_NOT_COMMANDS = {"main", "common"}


def _command_modules() -> dict[str, str]:
    """Command name -> module name; `pipe_test.py` provides `pipe-test`."""
    import maildoctor.cli as pkg

    return {
        info.name.replace("_", "-"): info.name
        for info in pkgutil.iter_modules(pkg.__path__)
        if info.name not in _NOT_COMMANDS and not info.name.startswith("_")
    }


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs, so start-up stays fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_command_modules())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = _command_modules().get(cmd_name)
        if module_name is None:
            return None
        cmd = getattr(importlib.import_module(f"maildoctor.cli.{module_name}"), "command", None)
        return cmd if isinstance(cmd, click.Command) else None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="maildoctor")
def cli() -> None:
    """Diagnose mail-server problems (Exim, Postfix): every answer names the cause, shows the
    evidence and gives the fix."""


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"maildoctor: error: {message}\n")
    return code


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code instead of exiting (used by tests)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        result = cli.main(args=args, prog_name="maildoctor", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else cli.get_help(click.Context(cli)))
        return 2
    except click.UsageError as exc:
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx and exc.ctx.parent else ""
        return _fail(f"{exc.format_message()}{where}", 2)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        return _fail("aborted", 130)
    except click.ClickException as exc:
        return _fail(exc.format_message(), exc.exit_code or 2)
    except MaildoctorError as exc:
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:
        # The reader (head, less) went away: not an error of ours. Silence the flush at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # the contract: never a traceback for the user
        if os.environ.get("MAILDOCTOR_DEBUG"):
            raise
        return _fail(f"internal error: {type(exc).__name__}: {exc} (rerun with MAILDOCTOR_DEBUG=1 for details)", 3)
    return int(result) if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())
