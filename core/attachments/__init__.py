"""Attachments: the database rows that name stored objects, and the upload flow's rules."""
