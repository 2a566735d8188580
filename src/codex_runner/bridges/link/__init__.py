"""The chat server link: codex-runner as a local runner of a chat server, over Phoenix Channels.

The runner connects out to the chat server, announces itself, reports presence, takes controls
from a chat channel and relays Codex's notifications back. See docs/link.md.
"""
