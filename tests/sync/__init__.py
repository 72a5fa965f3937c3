"""Tests of :mod:`bot.sync`, one file per module (or per concern of a module)."""
