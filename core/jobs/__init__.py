"""Scheduled jobs: the catalog (every job, its id and schedule, in one place), the runner that
records every run (scheduled, "run now", CLI) as a job_runs row, and the admin queries."""
