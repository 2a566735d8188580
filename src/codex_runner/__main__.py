from codex_runner.cli.main import main

main()
