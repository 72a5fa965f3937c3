"""The command line: one parser (:mod:`bot.cli.main`) and one module per sub-command."""
