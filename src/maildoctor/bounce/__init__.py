"""Bounce parsing and classification: DSNs and the non-standard formats of many MTAs."""

from maildoctor.bounce.core import analyze_mail, parse_bounce
from maildoctor.bounce.model import Bounce, Recipient

__all__ = ["Bounce", "Recipient", "analyze_mail", "parse_bounce"]
