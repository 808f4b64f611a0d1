"""``python -m baton`` is the ``baton`` command."""

from entrypoints.cli import app

app(prog_name="baton")
