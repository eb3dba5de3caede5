"""The transactional outbox: mails written with the change that causes them, sent later by the
sender worker (scheduler/mailsender.py)."""
