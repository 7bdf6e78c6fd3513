"""One metric value with its standard error, or the stated reason why there is none."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    """A metric value, its standard error and how that error was obtained.

    ``stderr_method`` always says where the error comes from ("mean over texts", "jackknife over 10
    groups of texts", ...) or, when ``stderr`` is NaN, why there is none, so a results file never
    holds a bare number without its uncertainty. ``n`` counts the rows (texts, points) used and
    ``dropped`` the rows left out (too short, duplicated), so a skipped input is never silent.
    """

    value: float
    stderr: float
    stderr_method: str
    n: int
    dropped: int = 0

    def as_dict(self, name: str) -> dict[str, float | int | str]:
        """Flat entries for a results row: ``name``, ``name_stderr``, ``name_stderr_method``, ``name_n``, ``name_dropped``."""
        return {name: self.value, f"{name}_stderr": self.stderr, f"{name}_stderr_method": self.stderr_method,
                f"{name}_n": self.n, f"{name}_dropped": self.dropped}

    @property
    def has_stderr(self) -> bool:
        return math.isfinite(self.stderr)
