"""Tests of :mod:`bot.clients`, one file per module (or per concern of a module)."""
