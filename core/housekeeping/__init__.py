"""Housekeeping: retention of raw inbound mail, abandoned uploads, auto-close, job-run pruning."""
