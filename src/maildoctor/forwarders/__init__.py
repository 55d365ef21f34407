"""Forwarders, aliases and pipes: static analysis, address routing explained, and a safe pipe test."""
