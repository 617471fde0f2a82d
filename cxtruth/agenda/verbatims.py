"""What customers wrote: the month's NPS comments, quoted as written.

Comments are hostile text from strangers. They are kept exactly as written
(templates escape them; nothing here interprets them), and bounded: a capped
number per group, each capped in length, with counts of what was left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from ..months import Month

MAX_DETRACTOR_COMMENTS = 8
MAX_PROMOTER_COMMENTS = 3
MAX_COMMENT_CHARS = 600


@dataclass(frozen=True)
class Verbatim:
    score: int
    responded_at: datetime
    segment: str | None
    account_id: str | None
    text: str
    full_length: int  # characters in the comment as written

    @property
    def shortened(self) -> bool:
        return self.full_length > len(self.text)


@dataclass
class Verbatims:
    detractors: list[Verbatim] = field(default_factory=list)
    detractors_total: int = 0  # detractor responses with a comment
    promoters: list[Verbatim] = field(default_factory=list)
    promoters_total: int = 0
    # The themes each group's quotes were picked from (empty: the newest of all comments).
    themes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def detractors_not_shown(self) -> int:
        return self.detractors_total - len(self.detractors)

    @property
    def promoters_not_shown(self) -> int:
        return self.promoters_total - len(self.promoters)


def _quote(row) -> Verbatim:
    text = str(row.comment).strip()
    shown = text if len(text) <= MAX_COMMENT_CHARS else text[:MAX_COMMENT_CHARS].rstrip()
    return Verbatim(
        score=int(row.score),
        responded_at=row.responded_at.to_pydatetime(),
        segment=None if pd.isna(row.segment) else str(row.segment),
        account_id=None if pd.isna(row.account_id) else str(row.account_id),
        text=shown,
        full_length=len(text),
    )


def month_comments(nps: pd.DataFrame | None, month: Month) -> pd.DataFrame | None:
    """Responses of ``month`` with a comment (a blank one is no comment), newest first;
    None when there is no export or it has no comment column."""
    if nps is None or "comment" not in nps:
        return None
    rows = _rows_where(nps, month.mask(nps["responded_at"].to_numpy()))
    rows = rows[rows["comment"].notna() & (rows["comment"].str.strip() != "")]
    return rows.sort_values(["responded_at", "response_id"], ascending=False, kind="stable")


def month_verbatims(nps: pd.DataFrame | None, month: Month,
                    max_detractors: int = MAX_DETRACTOR_COMMENTS,
                    max_promoters: int = MAX_PROMOTER_COMMENTS,
                    about=None) -> Verbatims:
    """Detractor and promoter comments of ``month``, newest first, capped.

    ``about(group, comment) -> bool``, when given, keeps to the comments a group's quotes
    are picked from (the themes that grew most, cxtruth.agenda.themes); totals still
    count every comment."""
    rows = month_comments(nps, month)
    if rows is None:
        return Verbatims()
    detractors, promoters = rows[rows["score"] <= 6], rows[rows["score"] >= 9]

    def shown(group: str, frame: pd.DataFrame, cap: int) -> list[Verbatim]:
        if about is not None:
            frame = frame[[about(group, str(c)) for c in frame["comment"]]] if len(frame) else frame
        return [_quote(r) for r in frame.head(cap).itertuples(index=False)]

    return Verbatims(
        detractors=shown("detractors", detractors, max_detractors),
        detractors_total=len(detractors),
        promoters=shown("promoters", promoters, max_promoters),
        promoters_total=len(promoters),
    )


def _rows_where(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """``frame[mask]``, column by column. ``frame[mask]`` takes rows by position, and
    Arrow takes from a text column read in blocks by first copying all its blocks into
    one (1.5M responses: every comment and id, 136 MB); each array's own boolean
    indexing filters block by block and copies only the rows kept."""
    return pd.DataFrame({name: frame[name].array[mask] for name in frame.columns}, index=frame.index[mask])
