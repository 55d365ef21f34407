"""Renderers: one JSON encoder and the rich text report."""
