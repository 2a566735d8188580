"""The runner's home (``$CODEX_RUNNER_HOME``): its private files, the API token, where a
running daemon can be reached, the team's Codex home, and the file modes everything in it is
made with.

A ground floor: every layer above config may use it (the CLI finds the daemon, the API checks
the token, the Slack bridge writes private files, Codex children get the user's umask); it
uses nothing of the runner's but the domain and config.
"""
