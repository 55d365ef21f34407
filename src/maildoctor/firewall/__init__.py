"""Outbound SMTP blocks: CSF, cPanel SMTP Restrictions and netfilter owner rules, judged per user."""
