"""The scheduler process: held records, SLA checks, cap windows and out-of-office changes, one leader at a time."""
