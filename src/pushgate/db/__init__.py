"""Database access: engine and sessions, models, migrations, embedded server."""
