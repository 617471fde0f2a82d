"""The small expression language of config.toml: row filters (`where`), and later the
custom metrics' filters and values. Parsed by a real grammar (Lark), never `eval`.

    Finished = "1"
    Status != "Survey Preview" and Progress >= 100
    `Issue Type` in ["Bug", "Support"]          (or "Issue Type" in [...])
    not (channel in ["spam", "test"]) or rating is null
    days(closed_at - received_at) <= 14

Names are columns; a name with spaces is written in backticks, or in double
quotes on the left of a comparison. Strings are in double or single quotes,
numbers as written (a dot for decimals). `=` and `==` are the same. A
mistake is a `ExpressionError` naming the position (1-based column).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Union

GRAMMAR = r"""
?start: or_
?or_: and_ (_OR and_)*                     -> or_
?and_: not_ (_AND not_)*                   -> and_
?not_: _NOT not_                           -> not_
     | comparison
?comparison: sum OP sum                    -> compare
     | sum _IN list                        -> isin
     | sum _NOT _IN list                   -> notin
     | sum _IS _NULL                       -> isnull
     | sum _IS _NOT _NULL                  -> notnull
     | sum
?sum: product (ADDOP product)*             -> arith
?product: unary (MULOP unary)*             -> arith
?unary: "-" unary                          -> neg
     | atom
?atom: NUMBER                              -> number
     | STRING                              -> string
     | BACKTICKED                          -> quoted_name
     | NAME "(" [or_ ("," or_)*] ")"       -> call
     | NAME                                -> name
     | _TRUE                               -> true
     | _FALSE                              -> false
     | "(" or_ ")"
list: "[" [literal ("," literal)*] ","? "]"
?literal: NUMBER -> number
     | STRING -> string
     | "-" NUMBER -> negnumber

OP: "==" | "!=" | "<>" | ">=" | "<=" | "=" | ">" | "<"
ADDOP: "+" | "-"
MULOP: "*" | "/"
_OR.2: /or\b/i
_AND.2: /and\b/i
_NOT.2: /not\b/i
_IN.2: /in\b/i
_IS.2: /is\b/i
_NULL.2: /null\b/i
_TRUE.2: /true\b/i
_FALSE.2: /false\b/i
NAME: /[A-Za-z_][A-Za-z0-9_.]*/
BACKTICKED: /`[^`]+`/
STRING: /"(?:[^"\\]|\\.)*"/ | /'(?:[^'\\]|\\.)*'/
NUMBER: /\d+(\.\d+)?([eE][+-]?\d+)?/
%import common.WS
%ignore WS
"""

FUNCTIONS = {"days": 1, "lower": 1, "trim": 1, "monthly": 2}
# monthly(amount, interval): a price per billing interval as a monthly amount (Stripe's Plan Interval).
PER_MONTH = {"day": 365 / 12, "week": 52 / 12, "month": 1.0, "quarter": 1 / 3, "year": 1 / 12}


class ExpressionError(ValueError):
    """A mistake in an expression; the message names the position."""


# -- the tree ------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Literal:
    value: Union[str, float, bool]


@dataclass(frozen=True)
class Compare:
    op: str  # = != < <= > >=
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class In:
    value: "Node"
    options: tuple
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    value: "Node"
    negated: bool = False


@dataclass(frozen=True)
class Logic:
    op: str  # and / or
    parts: tuple


@dataclass(frozen=True)
class Not:
    part: "Node"


@dataclass(frozen=True)
class Arith:
    op: str  # + - * /
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple


Node = Union[Column, Literal, Compare, In, IsNull, Logic, Not, Arith, Call]


def columns(node: Node) -> set[str]:
    """Every column an expression reads."""
    if isinstance(node, Column):
        return {node.name}
    if isinstance(node, Literal):
        return set()
    children = {Compare: ("left", "right"), In: ("value",), IsNull: ("value",), Not: ("part",),
                Arith: ("left", "right")}.get(type(node))
    if children:
        return set().union(*(columns(getattr(node, c)) for c in children))
    parts = node.parts if isinstance(node, Logic) else node.args
    return set().union(set(), *(columns(p) for p in parts))


# -- parsing -------------------------------------------------------------------

@lru_cache(maxsize=1)
def _parser():
    from lark import Lark

    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


def parse(text: str) -> Node:
    """The tree of ``text``; raises ExpressionError naming the position of a mistake."""
    from lark import Token, Transformer, v_args
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the expression is empty")
    if len(text) > 2000:
        raise ExpressionError("the expression is longer than 2,000 characters")
    if text.count("(") + text.count("[") > 100:
        raise ExpressionError("the expression nests more than 100 brackets")
    try:
        tree = _parser().parse(text)
    except UnexpectedCharacters as exc:
        raise ExpressionError(f"at column {exc.column}: unexpected {text[exc.pos_in_stream]!r}") from None
    except UnexpectedEOF:
        raise ExpressionError(f"at column {len(text) + 1}: the expression ends too early") from None
    except UnexpectedToken as exc:
        found = "the end" if exc.token.type == "$END" else repr(str(exc.token))
        raise ExpressionError(f"at column {exc.column if exc.column not in (None, -1) else len(text) + 1}: "
                              f"unexpected {found}") from None
    except UnexpectedInput as exc:  # pragma: no cover - the three above are all Lark raises
        raise ExpressionError(f"at column {exc.column}: cannot read this") from None

    def unquote(token: Token) -> str:
        body = str(token)[1:-1]
        return body.replace('\\"', '"').replace("\\'", "'").replace("\\\\", "\\")

    @v_args(inline=True)
    class Build(Transformer):
        def number(self, token):
            return Literal(float(token))

        def negnumber(self, token):
            return Literal(-float(token))

        def string(self, token):
            return Literal(unquote(token))

        def quoted_name(self, token):
            return Column(str(token)[1:-1])

        def name(self, token):
            return Column(str(token))

        def true(self):
            return Literal(True)

        def false(self):
            return Literal(False)

        def neg(self, value):
            if isinstance(value, Literal) and isinstance(value.value, float):
                return Literal(-value.value)
            return Arith("-", Literal(0.0), value)

        def compare(self, left, op, right):
            op = {"==": "=", "<>": "!="}.get(str(op), str(op))
            if isinstance(left, Literal) and isinstance(left.value, str):  # "Issue Type" = ...: a column
                left = Column(left.value)
            return Compare(op, left, right)

        def _subject(self, value):
            return Column(value.value) if isinstance(value, Literal) and isinstance(value.value, str) else value

        def isin(self, value, options):
            return In(self._subject(value), options)

        def notin(self, value, options):
            return In(self._subject(value), options, negated=True)

        def isnull(self, value):
            return IsNull(self._subject(value))

        def notnull(self, value):
            return IsNull(self._subject(value), negated=True)

        def list(self, *items):
            return tuple(i.value for i in items if i is not None)

        def or_(self, *parts):
            return parts[0] if len(parts) == 1 else Logic("or", parts)

        def and_(self, *parts):
            return parts[0] if len(parts) == 1 else Logic("and", parts)

        def not_(self, part):
            return Not(part)

        def arith(self, first, *rest):
            node = first
            for op, right in zip(rest[0::2], rest[1::2]):
                node = Arith(str(op), node, right)
            return node

        def call(self, name, *args):
            function = str(name).lower()
            args = tuple(a for a in args if a is not None)
            if function not in FUNCTIONS:
                raise ExpressionError(f"at column {name.column}: unknown function {str(name)!r} "
                                      f"(known: {', '.join(FUNCTIONS)})")
            if len(args) != FUNCTIONS[function]:
                wanted = FUNCTIONS[function]
                raise ExpressionError(f"at column {name.column}: {function}() takes {wanted} "
                                      f"argument{'s' if wanted > 1 else ''}")
            return Call(function, args)

    from lark.exceptions import VisitError

    try:
        return Build().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ExpressionError):
            raise exc.orig_exc from None
        if isinstance(exc.orig_exc, RecursionError):
            raise ExpressionError("the expression nests too deeply") from None
        raise
    except RecursionError:
        raise ExpressionError("the expression nests too deeply") from None


# -- row filters on an export's text cells ---------------------------------------

def row_mask(node: Node, cells: dict):
    """Which rows ``node`` keeps, as a boolean numpy array. ``cells``: column -> pandas
    Series of the export's text ("" for blank). A comparison with a number compares
    numbers (a cell that is not one does not match); with text, the trimmed text."""
    import numpy as np
    import pandas as pd

    def value(n):
        if isinstance(n, Column):
            return cells[n.name].astype(str).str.strip()
        if isinstance(n, Literal):
            return n.value
        if isinstance(n, Call) and n.function in ("lower", "trim"):
            inner = value(n.args[0])
            return inner.str.lower() if n.function == "lower" else inner.str.strip()
        raise ExpressionError("a row filter compares columns with values; arithmetic and days() "
                              "belong in a custom metric")

    def truth(n) -> np.ndarray:
        if isinstance(n, Logic):
            masks = [truth(p) for p in n.parts]
            return np.logical_and.reduce(masks) if n.op == "and" else np.logical_or.reduce(masks)
        if isinstance(n, Not):
            return ~truth(n.part)
        if isinstance(n, IsNull):
            blank = (value(n.value) == "").to_numpy()
            return ~blank if n.negated else blank
        if isinstance(n, In):
            text = value(n.value)
            numeric = [o for o in n.options if isinstance(o, float)]
            hit = text.isin([o for o in n.options if isinstance(o, str)]).to_numpy()
            if numeric:
                hit |= pd.to_numeric(text, errors="coerce").isin(numeric).to_numpy()
            return ~hit if n.negated else hit
        if isinstance(n, Compare):
            left, right = value(n.left), value(n.right)
            if isinstance(right, float) or isinstance(left, float):
                left = pd.to_numeric(left, errors="coerce") if isinstance(left, pd.Series) else left
                right = pd.to_numeric(right, errors="coerce") if isinstance(right, pd.Series) else right
            elif isinstance(right, bool):
                right = "true" if right else "false"
                left = left.str.lower()
            result = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
                      "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[n.op](left, right)
            result = pd.Series(result) if not isinstance(result, pd.Series) else result
            return result.fillna(n.op == "!=").to_numpy(dtype=bool)
        if isinstance(n, Column):
            return value(n).str.lower().isin(["1", "true", "yes", "y"]).to_numpy()
        raise ExpressionError("a row filter must be a condition (e.g. Status != \"Survey Preview\")")

    return truth(node)


def row_values(node: Node, cells: dict):
    """The value of ``node`` for each row, as a pandas Series (numbers as float, NaN where a
    cell is not one). ``cells``: column -> Series of the export's text."""
    import numpy as np
    import pandas as pd

    length = len(next(iter(cells.values()))) if cells else 0

    def number(n):
        v = value(n)
        if isinstance(v, pd.Series):
            return pd.to_numeric(v.str.strip() if v.dtype == object else v, errors="coerce").astype("float64")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return pd.Series(float(v), index=range(length))
        raise ExpressionError(f"{v!r} is not a number")

    def value(n):
        if isinstance(n, Column):
            return cells[n.name].astype(object).fillna("").astype(str).astype(object)
        if isinstance(n, Literal):
            return n.value
        if isinstance(n, Arith):
            left, right = number(n.left), number(n.right)
            return {"+": left + right, "-": left - right, "*": left * right,
                    "/": left / right.where(right != 0)}[n.op]
        if isinstance(n, Call) and n.function == "monthly":
            amount = number(n.args[0])
            interval = value(n.args[1])
            interval = interval.str.strip().str.lower() if isinstance(interval, pd.Series) else \
                pd.Series(str(interval).lower(), index=range(length))
            return amount * interval.map(PER_MONTH).astype("float64")
        if isinstance(n, Call) and n.function in ("lower", "trim"):
            inner = value(n.args[0])
            return inner.str.lower() if n.function == "lower" else inner.str.strip()
        raise ExpressionError("a computed column is arithmetic on columns, monthly(), lower() or trim()")

    result = value(node)
    if not isinstance(result, pd.Series):
        result = pd.Series([result] * length)
    if pd.api.types.is_numeric_dtype(result):
        result = result.where(np.isfinite(result))
    return result


def is_value(node: Node) -> bool:
    """Whether ``node`` gives a value per row (a column, arithmetic, a function), not a condition."""
    return isinstance(node, (Column, Literal, Arith, Call))
