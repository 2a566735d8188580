"""The runner's home (``$CODEX_RUNNER_HOME``): its private files, the API token, where a
running daemon can be reached, and the file modes everything in it is made with.

A ground floor: every layer may use it (the CLI finds the daemon, the API checks the token,
the Slack bridge writes private files, Codex children get the user's umask), and it uses
nothing of the runner's but the standard library.
"""
