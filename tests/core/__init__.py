"""Tests of :mod:`bot.core`, one file per module (or per concern of a module)."""
