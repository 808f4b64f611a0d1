"""Commands run in-process (``typer.testing.CliRunner``) give the test process its logging back."""

from tests.support.cli import keep_logging_config  # noqa: F401
