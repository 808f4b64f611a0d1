"""``baton demo``: the handoff page on fake Salesforce and Google Calendar servers with seed data.

The fake servers live here, in the package, so the demo runs from an installed wheel; Baton's tests use
them too."""
