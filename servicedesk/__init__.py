"""The `servicedesk` command line: starts the processes and runs the operator's tools."""
