"""maildoctor: diagnose mail-server problems from what the server has."""

__version__ = "0.1.0"
