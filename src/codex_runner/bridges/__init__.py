"""Adapters that bring work to the task service from where people talk (Slack, ...)."""
