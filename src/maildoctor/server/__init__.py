"""Readers of server configuration under a root: aliases, valiases, .forward, CSF, cPanel flags, iptables."""
