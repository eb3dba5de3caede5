"""Operational read-outs (queue depths, recent failures) for /metrics and health pages."""
