"""One line of ``check``: the result every check module gives (:mod:`bot.cli.check`)."""

from __future__ import annotations

from dataclasses import dataclass

LINE = "{mark} {name}: {detail}"


@dataclass(frozen=True)
class CheckResult:
    """One line of ``check``: passed, failed, or skipped (counts as passed)."""

    name: str
    ok: bool
    detail: str
    skipped: bool = False

    def line(self) -> str:
        """The line printed for it."""
        mark = "skip" if self.skipped else ("ok  " if self.ok else "FAIL")
        return LINE.format(mark=mark, name=self.name, detail=self.detail)
