"""Who is sending: per-source statistics over the mail log, compromise scoring and containment."""
