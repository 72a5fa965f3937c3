"""Tests of :mod:`bot.handlers`, one file per module (or per concern of a module)."""
