"""The handoff page's view logic: the week of slots, the host panel, the record's details."""
