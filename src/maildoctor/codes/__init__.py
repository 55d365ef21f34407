"""Outlook / Windows Mail error codes (0x800CCCxx): knowledge, pasted-text parsing, cause checks."""
