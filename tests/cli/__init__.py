"""Tests of :mod:`bot.cli`, one file per module (or per concern of a module)."""
