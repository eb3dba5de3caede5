"""The shared heart of the service desk: config, database, models and domain services."""
