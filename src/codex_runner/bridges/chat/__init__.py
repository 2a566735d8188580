"""The chat core: what every chat bridge (Slack, the chat server link) shares.

One session per chat thread bound to one task and its Codex thread, the durable outbox, the
queue of messages that wait while a turn runs, approvals as chat actions, and the relay of a
task's events into posts. A bridge implements the small Protocols named in
docs/chat-bridges.md and keeps only what is its chat's own (its wire, its formatting, its
users).
"""
