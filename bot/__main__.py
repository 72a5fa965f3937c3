"""`python -m bot`: the same program as the `deliverables-bot` command."""

from bot.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
