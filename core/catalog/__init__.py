"""The desk's configuration that admins curate: teams and members, categories, canned responses."""
