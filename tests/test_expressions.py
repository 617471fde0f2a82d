"""The expression language of config.toml: parsed by a grammar, never eval-ed (issues 19, 20)."""

import pandas as pd
import pytest

from cxtruth.expressions import Column, Compare, ExpressionError, In, Literal, columns, parse, row_mask


def test_the_filters_of_the_issue():
    assert parse('Finished = "1"') == Compare("=", Column("Finished"), Literal("1"))
    assert parse('Status != "Survey Preview"') == Compare("!=", Column("Status"), Literal("Survey Preview"))
    assert parse('"Issue Type" in ["Bug", "Support"]') == In(Column("Issue Type"), ("Bug", "Support"))
    assert parse("`Issue Type` not in ['Bug']") == In(Column("Issue Type"), ("Bug",), negated=True)
    assert columns(parse('not (channel in ["spam"]) or rating is null and days(closed_at - received_at) <= 14')) == {
        "channel", "rating", "closed_at", "received_at"}


@pytest.mark.parametrize("text, says", [
    ("a = ", "at column 3: unexpected the end"),
    ('a == "x" and', "at column 10: unexpected the end"),
    ("foo(a) = 1", "at column 1: unknown function 'foo'"),
    ('x = "unterminated', "at column 5"),
    ("(a = 1", "at column 6"),
    ("a = 1 1", "at column 7: unexpected '1'"),
    ("__import__('os').system('x')", "at column 17: unexpected '.'"),  # no attribute access, ever
    ("a.__class__ = 1; b", "at column 16: unexpected ';'"),
    ("", "the expression is empty"),
    ("(" * 150 + "a" + ")" * 150, "nests more than 100"),
])
def test_mistakes_name_the_position(text, says):
    with pytest.raises(ExpressionError) as refused:
        parse(text)
    assert says in str(refused.value)


def test_row_filters_on_text_cells():
    cells = {"Finished": pd.Series(["1", "0", "1", ""]),
             "Status": pd.Series(["IP Address", "Survey Preview", "IP Address", "Spam"]),
             "Progress": pd.Series(["100", "50", "n/a", " 100 "])}
    assert row_mask(parse('Finished = "1" and Status != "Survey Preview"'), cells).tolist() == [True, False, True, False]
    assert row_mask(parse("Progress >= 100"), cells).tolist() == [True, False, False, True]  # n/a is no number
    assert row_mask(parse('Status in ["Spam", "Survey Preview"]'), cells).tolist() == [False, True, False, True]
    assert row_mask(parse("Finished is null"), cells).tolist() == [False, False, False, True]
    assert row_mask(parse("not Finished is not null"), cells).tolist() == [False, False, False, True]
    assert row_mask(parse('lower(Status) = "spam"'), cells).tolist() == [False, False, False, True]
    with pytest.raises(ExpressionError, match="arithmetic and days"):
        row_mask(parse("days(Finished - Progress) > 1"), cells)
