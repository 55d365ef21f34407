"""maildoctor's real-server lab: Exim, a remote MX, unbound and Postfix in a private network namespace."""

from .lab import Lab, LabError, LabRun, LabUnavailable, Scenario, check_available

__all__ = ["Lab", "LabError", "LabRun", "LabUnavailable", "Scenario", "check_available"]
