"""Tests of :mod:`bot.intake`, one file per module (or per concern of a module)."""
