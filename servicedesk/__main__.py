from servicedesk.cli import app

app(prog_name="servicedesk")
