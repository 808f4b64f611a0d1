"""Stage handlers: plain functions from one batch to the next, working through ports."""
