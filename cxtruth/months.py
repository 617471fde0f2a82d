"""Calendar months in the report time zone.

All timestamps inside cxtruth are naive wall-clock times in the report zone
(see `cxtruth.sources.dates`), so a month is just a pair of naive bounds.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import pandas as pd


_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Month":
        """Parse ``YYYY-MM``; raises ValueError with a readable message."""
        match = _MONTH_RE.match(text.strip())
        if not match or not 1 <= int(match[2]) <= 12:
            raise ValueError(f"expected a month as YYYY-MM (e.g. 2026-10), got {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def last_complete(cls, timezone: str, now: datetime | None = None) -> "Month":
        """The previous calendar month in ``timezone`` (what a cron run reports)."""
        now = now or datetime.now(ZoneInfo(timezone))
        if now.tzinfo is not None:
            now = now.astimezone(ZoneInfo(timezone))
        return cls(now.year, now.month).shift(-1)

    @property
    def index(self) -> int:
        """Months since year 0: an integer key that sorts and subtracts."""
        return self.year * 12 + self.month - 1

    @classmethod
    def from_index(cls, index: int) -> "Month":
        return cls(index // 12, index % 12 + 1)

    def shift(self, months: int) -> "Month":
        return Month.from_index(self.index + months)

    @property
    def start(self) -> pd.Timestamp:
        import pandas as pd  # here, not at the top: `cxtruth --help` must not pay for pandas

        return pd.Timestamp(self.year, self.month, 1)

    @property
    def end(self) -> pd.Timestamp:
        """Exclusive: the start of the next month."""
        return self.shift(1).start

    def mask(self, stamps):
        """Which of ``stamps`` (naive report-zone datetimes: a numpy array or a pandas Series)
        fall in this month: start <= t < start of next month (DATA_CONTRACT.md §1)."""
        return (stamps >= self.start.to_datetime64()) & (stamps < self.end.to_datetime64())

    @property
    def label(self) -> str:
        return self.start.strftime("%B %Y")

    @property
    def short_label(self) -> str:
        return self.start.strftime("%b %y")

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def trailing(self, count: int) -> list["Month"]:
        """``count`` months ending with this one, oldest first."""
        return [self.shift(-k) for k in range(count - 1, -1, -1)]


def generated_now(timezone: str) -> datetime:
    """Now in the report zone; SOURCE_DATE_EPOCH pins it for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = datetime.fromtimestamp(int(epoch), dt_timezone.utc) if epoch else datetime.now(dt_timezone.utc)
    return now.astimezone(ZoneInfo(timezone))
