"""Chaos experiments (issue #10): crash, database outage, replicas, fuzz, attack, load.

Each is one command, `.venv/bin/python -m bench.chaos.<name>`, bounded in count and time, talking
only to 127.0.0.1, printing a short report (and writing it under bench/reports/ unless
`--no-report`). tests/chaos/ runs light variants of each in the test suite.
"""
