"""The assignment simulator: every record through the decision chain under two configs, nothing written."""
