"""Themes in NPS comments: what detractors and promoters wrote about, counted per
configured theme, this month and last (docs/metrics.md, "Themes").

`[themes]` in config.toml maps a theme name to keywords. A keyword is text, never a
pattern that runs: it is normalised like the comments and found with `str.find`, so
no keyword can make matching slow or run code. The rules (decisions 63-65):

- Text and keywords are compared after casefolding, NFKD and dropping the accents of
  Latin, Greek and Cyrillic letters (`normalise`): "Facturación" is "facturacion",
  "RECHNUNG" is "rechnung". Marks that are letters' own parts in other scripts (Hindi
  vowel signs, Japanese voicing marks) are kept: dropping them would make other words.
- A keyword matches where a word begins: "invoice" finds "invoices" and "invoiced",
  not "reinvoice"; ``=word`` matches the whole word only ("=app" finds "app", not
  "apply"). Words are runs of letters, digits and their marks in any script; a
  keyword with spaces is a phrase (its words in order, separated by whitespace).
- A keyword holding a character of a script written without spaces between words
  (Chinese, Japanese, Thai, Lao, Khmer, Myanmar, Tibetan) matches anywhere in the text:
  there is no word boundary to look for.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import pandas as pd

from ..months import Month
from .verbatims import Verbatims, month_comments, month_verbatims

MAX_THEMES = 20
MAX_KEYWORDS = 50  # per theme
MAX_KEYWORD_CHARS = 100
MAX_NAME_CHARS = 60
MAX_CARD_THEMES = 3  # themes named under "What moved it" on the NPS card
MAX_QUOTED_THEMES = 2  # themes the verbatims are picked from

# Scripts written without spaces between words: a keyword in them is found anywhere.
_UNSPACED = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x0F00, 0x0FFF),  # Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F), (0x31A0, 0x31FF),  # Bopomofo, Katakana extensions
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),  # CJK ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3FFFF),  # CJK extensions
)
# Letters whose combining marks are accents: Latin, Greek, Cyrillic (with their extensions).
_ACCENTED = ((0x0000, 0x052F), (0x1C80, 0x1C8F), (0x1D00, 0x1FFF), (0x2C60, 0x2C7F),
             (0x2DE0, 0x2DFF), (0xA640, 0xA69F), (0xA720, 0xA7FF), (0xAB30, 0xAB6F))


def _within(ch: str, ranges) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in ranges)


def normalise(text: str) -> str:
    """``text`` as matched: casefolded, accents of Latin, Greek and Cyrillic letters dropped,
    every run of whitespace one space. Other scripts keep their marks."""
    out, base = [], ""
    for ch in unicodedata.normalize("NFKD", text.casefold()):
        if unicodedata.combining(ch):
            if _within(base, _ACCENTED):
                continue
        else:
            base = ch
        out.append(ch)
    return " ".join(unicodedata.normalize("NFC", "".join(out)).split())


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_" or unicodedata.category(ch).startswith("M")


@dataclass(frozen=True)
class Keyword:
    text: str  # normalised
    whole_word: bool
    anywhere: bool  # a script without spaces: no boundary to look for

    def found_in(self, text: str) -> bool:
        """Whether this keyword occurs in the normalised ``text`` by the rules above."""
        start = text.find(self.text)
        while start >= 0:
            end = start + len(self.text)
            if self.anywhere or (
                (start == 0 or not _is_word_char(text[start - 1]))
                and (not self.whole_word or end == len(text) or not _is_word_char(text[end]))
            ):
                return True
            start = text.find(self.text, start + 1)
        return False


def parse_keyword(raw: str) -> Keyword:
    """One keyword of `[themes]`; raises ValueError saying what is wrong with it."""
    if not isinstance(raw, str):
        raise ValueError("a keyword must be text")
    if len(raw) > MAX_KEYWORD_CHARS:
        raise ValueError(f"a keyword is at most {MAX_KEYWORD_CHARS} characters ({len(raw):,} given)")
    whole = raw.startswith("=")
    text = normalise(raw[1:] if whole else raw)
    if not any(_is_word_char(ch) for ch in text):
        raise ValueError(f"{raw!r} has no letter or digit to look for")
    return Keyword(text, whole, any(_within(ch, _UNSPACED) for ch in text))


@dataclass(frozen=True)
class ThemeMatcher:
    """The configured themes, in config order, each with its parsed keywords."""

    themes: tuple[tuple[str, tuple[Keyword, ...]], ...]

    @classmethod
    def from_config(cls, themes: dict[str, list[str]]) -> "ThemeMatcher":
        return cls(tuple((name, tuple(parse_keyword(k) for k in keywords)) for name, keywords in themes.items()))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.themes]

    def themes_of(self, comment: str) -> list[str]:
        """The themes ``comment`` is about (any number, config order)."""
        text = normalise(comment)
        return [name for name, keywords in self.themes if any(k.found_in(text) for k in keywords)]


def check_themes(themes: dict[str, list[str]]) -> dict[str, list[str]]:
    """`[themes]` validated; raises ValueError starting with the key at fault (``themes.<name>``)."""
    if len(themes) > MAX_THEMES:
        raise ValueError(f"themes: at most {MAX_THEMES} themes ({len(themes)} given)")
    for name, keywords in themes.items():
        key = f"themes.{name}" if name.isprintable() and len(name) <= MAX_NAME_CHARS else "themes"
        if not name.strip() or not name.isprintable() or len(name) > MAX_NAME_CHARS:
            raise ValueError(f"{key}: a theme name is one line of 1 to {MAX_NAME_CHARS} characters")
        if not keywords:
            raise ValueError(f"{key}: list at least one keyword")
        if len(keywords) > MAX_KEYWORDS:
            raise ValueError(f"{key}: at most {MAX_KEYWORDS} keywords ({len(keywords)} given)")
        for position, raw in enumerate(keywords, 1):
            try:
                parse_keyword(raw)
            except ValueError as exc:
                raise ValueError(f"{key}: keyword {position}: {exc}") from None
    return themes


# -- counting -------------------------------------------------------------------

GROUPS = ("detractors", "promoters")


def group_of(score: int) -> str | None:
    """The NPS metric's groups: detractor 0-6, promoter 9-10, passive (None) otherwise."""
    return "detractors" if score <= 6 else "promoters" if score >= 9 else None


@dataclass(frozen=True)
class ThemeCount:
    theme: str  # a theme name, or "untagged"
    count: int | None  # comments of the group this month about it; None: the group wrote none
    previous: int | None  # the same last month

    @property
    def change(self) -> int | None:
        return None if self.count is None or self.previous is None else self.count - self.previous

    @property
    def grew(self) -> bool:
        return (self.change or 0) > 0

    def document(self) -> dict:
        return {"theme": self.theme, "count": self.count, "previous": self.previous, "change": self.change}


@dataclass
class ThemeCounts:
    """Per group (detractors, promoters): every theme's count, those that grew most first."""

    comments: dict[str, ThemeCount]  # the group's comments (theme "all"); None when not known
    themes: dict[str, list[ThemeCount]]
    untagged: dict[str, ThemeCount]
    quoted_from: dict[str, list[str]] = field(default_factory=dict)  # themes the verbatims are picked from
    # Why there are no counts: the NPS metric is not scored (too many of its rows rejected, a
    # column missing...), and counts of the rows left would read as a finding (decision 76).
    withheld: str | None = None

    def grown(self, group: str = "detractors", limit: int = MAX_CARD_THEMES) -> list[ThemeCount]:
        return [t for t in self.themes[group] if t.grew][:limit]

    def withhold(self, reason: str) -> "ThemeCounts":
        """The same themes with no counts, and why: what a metric that is not scored shows."""
        def none(t: ThemeCount) -> ThemeCount:
            return ThemeCount(t.theme, None, None)

        return ThemeCounts({g: none(c) for g, c in self.comments.items()},
                           {g: [none(t) for t in ts] for g, ts in self.themes.items()},
                           {g: none(t) for g, t in self.untagged.items()}, {g: [] for g in GROUPS}, reason)

    def document(self) -> dict:
        return {
            "comments": {g: {"count": c.count, "previous": c.previous} for g, c in self.comments.items()},
            **{g: [t.document() for t in self.themes[g]] for g in GROUPS},
            "untagged": {g: {k: v for k, v in t.document().items() if k != "theme"} for g, t in self.untagged.items()},
            "quoted_from": self.quoted_from,
            "withheld": self.withheld,
        }


def _tally(comments: pd.DataFrame | None, matcher: ThemeMatcher) -> dict[str, dict[str, int] | None]:
    """Per group: comments, untagged and per-theme counts (None for a group with no comment)."""
    if comments is None:
        return {g: None for g in GROUPS}
    out: dict[str, dict[str, int] | None] = {}
    for group in GROUPS:
        texts = [str(c) for c, s in zip(comments["comment"], comments["score"]) if group_of(int(s)) == group]
        if not texts:
            out[group] = None
            continue
        tally = {name: 0 for name in matcher.names} | {"": len(texts), None: 0}
        for text in texts:
            found = matcher.themes_of(text)
            for name in found:
                tally[name] += 1
            tally[None] += not found
        out[group] = tally
    return out


def count_themes(nps: pd.DataFrame | None, month: Month, matcher: ThemeMatcher) -> ThemeCounts:
    """Detractor and promoter comments of ``month`` and the month before, per theme.

    A comment may be counted under several themes; "untagged" counts those under none.
    A group that wrote no comment in a month has counts of None that month (not 0: there
    was nothing to tag). Themes are ordered by growth (change, then count), then config order.
    """
    now = _tally(month_comments(nps, month), matcher)
    before = _tally(month_comments(nps, month.shift(-1)), matcher)

    def get(tally, key):
        return None if tally is None else tally[key]

    themes, untagged, comments = {}, {}, {}
    for g in GROUPS:
        counts = [ThemeCount(name, get(now[g], name), get(before[g], name)) for name in matcher.names]
        themes[g] = sorted(counts, key=lambda t: (-(t.change if t.change is not None else -10**9),
                                                  -(t.count or 0)))
        untagged[g] = ThemeCount("untagged", get(now[g], None), get(before[g], None))
        comments[g] = ThemeCount("all", get(now[g], ""), get(before[g], ""))
    return ThemeCounts(comments, themes, untagged)


def picked_themes(counts: ThemeCounts, group: str) -> list[str]:
    """The themes a group's verbatims are taken from: the (at most two) that grew most."""
    return [t.theme for t in counts.grown(group, MAX_QUOTED_THEMES)]


def comment_findings(nps: pd.DataFrame | None, month: Month,
                     themes: dict[str, list[str]]) -> tuple[ThemeCounts | None, Verbatims]:
    """The month's theme counts (None without `[themes]`) and its verbatims: with themes,
    each group's quotes are the newest comments of the themes that grew most (the newest
    of all when none grew)."""
    if not themes:
        return None, month_verbatims(nps, month)
    matcher = ThemeMatcher.from_config(themes)
    counts = count_themes(nps, month, matcher)
    counts.quoted_from = {g: picked_themes(counts, g) for g in GROUPS}

    def about(group: str, comment: str) -> bool:
        picked = counts.quoted_from[group]
        return not picked or any(name in picked for name in matcher.themes_of(comment))

    verbatims = month_verbatims(nps, month, about=about)
    verbatims.themes = counts.quoted_from
    return counts, verbatims
