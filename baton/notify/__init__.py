"""Notifications: new owners, booking hosts and team leads are told by email and/or Slack."""
