"""Doctor checks: outbound SMTP restrictions (CSF, cPanel SMTP Restrictions, saved netfilter rules)."""

from __future__ import annotations

from maildoctor.doctor import DoctorContext, doctor_check
from maildoctor.firewall.analyze import DEFAULT_PORTS, analyze_policy
from maildoctor.firewall.sources import read_accounts, read_rulesets
from maildoctor.model import Evidence, Finding, Severity
from maildoctor.server.csf import read_csf
from maildoctor.server.firewall import read_cpanel_smtp_restrictions


@doctor_check("firewall")
def check_firewall(ctx: DoctorContext) -> list[Finding]:
    """What stops website scripts from sending out; never reads the live rules (the root may be a snapshot)."""
    csf = read_csf(ctx.root)
    cpanel = read_cpanel_smtp_restrictions(ctx.root)
    rulesets, _notes = read_rulesets(ctx.root, False, read_accounts(ctx.root))
    out = analyze_policy(csf, cpanel, rulesets, DEFAULT_PORTS)
    if csf is not None and not csf.disabled:
        testing = csf.evidence_line("TESTING")
        if csf.flag("TESTING") and testing:
            out.append(Finding("firewall.csf_testing", Severity.WARNING, "CSF is in TESTING mode",
                               "In testing mode a cron job flushes the rules every few minutes: blocks come and go.",
                               (Evidence("file", testing[1], str(csf.path), testing[0]),),
                               ('Set TESTING = "0" in csf.conf and run csf -r once the rules are right.',)))
        if csf.smtp_block and cpanel is not None and cpanel.enabled:
            out.append(Finding("firewall.double_smtp_block", Severity.WARNING,
                               "Both CSF SMTP_BLOCK and cPanel SMTP Restrictions are on",
                               "They do the same job with different exceptions; SMTP_ALLOWUSER cannot help a user "
                               "while cPanel's restriction still blocks it.",
                               (Evidence("file", "SMTP_BLOCK = \"1\"", str(csf.path)),
                                Evidence("file", "SMTP Restrictions enabled", cpanel.evidence, cpanel.line)),
                               ("Keep one: turn off WHM > Security Center > SMTP Restrictions when CSF's SMTP_BLOCK "
                                "is used.",)))
    return out
