"""A record of skipped samples: counts by reason and the first few names, for a run's summary."""

import logging
from collections.abc import Iterable

from .transforms import BadSample

__all__ = ["BadSampleLog"]

_logger = logging.getLogger("ganblocks.data")


class BadSampleLog:
    """Counts skipped samples by reason, each distinct sample once, and keeps the first names.

    A loader that meets the same broken file again (next epoch, another substitution) does not
    count it twice. The first ``max_names`` samples of each reason are also reported through the
    ``ganblocks.data`` logger as a warning, so they appear in the run's output as they happen.

    Args:
        max_names: Names kept (and logged) per reason.
        log: Whether to log the first samples of each reason.
    """

    def __init__(self, *, max_names: int = 5, log: bool = True) -> None:
        if max_names < 0:
            raise ValueError(f"max_names must be >= 0, got {max_names}")
        self.max_names = max_names
        self.log = log
        self._seen: dict[str, set[str]] = {}
        self._first: dict[str, list[str]] = {}

    def add(self, bad: BadSample) -> bool:
        """Record one skipped sample; returns whether it was new.

        Args:
            bad: The skipped sample.
        """
        seen = self._seen.setdefault(bad.reason, set())
        if bad.name in seen:
            return False
        seen.add(bad.name)
        first = self._first.setdefault(bad.reason, [])
        if len(first) < self.max_names:
            first.append(bad.name)
            if self.log:
                detail = f" ({bad.detail})" if bad.detail else ""
                _logger.warning("data: skipping %s: %s%s", bad.name, bad.reason, detail)
        return True

    def extend(self, bads: Iterable[BadSample]) -> None:
        """Record several skipped samples."""
        for bad in bads:
            self.add(bad)

    def counts(self) -> dict[str, int]:
        """Distinct skipped samples by reason, most frequent first."""
        items = sorted(self._seen.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        return {reason: len(names) for reason, names in items}

    def examples(self) -> dict[str, list[str]]:
        """The first names recorded for each reason."""
        return {reason: list(self._first[reason]) for reason in self.counts()}

    def summary(self) -> str:
        """One line: ``reason count (first names, ...)`` per reason, or ``"none"``."""
        if not self._seen:
            return "none"
        parts = []
        for reason, n in self.counts().items():
            names = self._first[reason]
            more = ", ..." if n > len(names) else ""
            parts.append(f"{reason} {n} ({', '.join(names)}{more})" if names else f"{reason} {n}")
        return "; ".join(parts)

    def __len__(self) -> int:
        return sum(len(names) for names in self._seen.values())

    def __repr__(self) -> str:
        return f"BadSampleLog({self.summary()})"
