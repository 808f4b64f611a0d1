"""Member administration (issue 22): availability, out of office, tags and team membership changed through the
``/v1`` admin API or ``baton member``, each audited (who, what, when) and in force for the next decision."""
