"""The one exception family of maildoctor; the CLI turns each into one line and an exit code."""

from __future__ import annotations


class MaildoctorError(Exception):
    """Root of every error maildoctor raises on purpose. `exit_code` follows the output contract."""

    exit_code = 3


class UsageError(MaildoctorError):
    """The user asked for something that cannot be done as asked (bad argument, bad value)."""

    exit_code = 2


class InputError(MaildoctorError):
    """An input file or stream cannot be read or is not what it should be."""

    exit_code = 2


class CannotRunError(MaildoctorError):
    """A check could not run at all (missing tool, no permission, no network)."""

    exit_code = 3
