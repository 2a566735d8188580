"""Test doubles shared by several test packages (the fake chat server, ...)."""
