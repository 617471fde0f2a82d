"""The small expression language of config.toml: row filters (`where`), computed columns,
and the custom metrics' filters and values. Parsed by a real grammar (Lark), never `eval`;
a custom metric's expressions are type-checked against its source's columns (`check`) and
compiled to Ibis expressions (`to_ibis`), so they run on any engine the metrics run on.

    Finished = "1"
    Status != "Survey Preview" and Progress >= 100
    `Issue Type` in ["Bug", "Support"]          (or "Issue Type" in [...])
    not (channel in ["spam", "test"]) or rating is null
    days(closed_at - received_at) <= 14

Names are columns; a name with spaces is written in backticks, or in double
quotes on the left of a comparison. Strings are in double or single quotes,
numbers as written (a dot for decimals). `=` and `==` are the same. A
mistake is a `ExpressionError` naming the position (1-based column; the line
too when the expression spans several) and what was expected there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

# Where a node starts in the text, (line, column), for messages; not part of its meaning.
At = tuple[int, int] | None


def _at() -> At:
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Column:
    name: str
    at: At = _at()


@dataclass(frozen=True)
class Literal:
    value: Union[str, float, bool]
    at: At = _at()


@dataclass(frozen=True)
class Compare:
    op: str  # = != < <= > >=
    left: "Node"
    right: "Node"
    at: At = _at()


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
    at: At = _at()


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple
    at: At = _at()


Node = Union[Column, Literal, Compare, In, IsNull, Logic, Not, Arith, Call]


MAX_DEPTH = 100  # operations inside each other; every reader of the tree recurses


def _children(node: Node) -> tuple:
    if isinstance(node, (Column, Literal)):
        return ()
    names = {Compare: ("left", "right"), In: ("value",), IsNull: ("value",), Not: ("part",),
             Arith: ("left", "right")}.get(type(node))
    if names:
        return tuple(getattr(node, name) for name in names)
    return tuple(node.parts if isinstance(node, Logic) else node.args)


def depth(node: Node) -> int:
    """How many operations deep ``node`` is (without recursing: a chain of 600 divisions is
    600 deep, and Python's own stack would give out first)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in _children(node))
    return deepest


def columns(node: Node) -> set[str]:
    """Every column an expression reads."""
    if isinstance(node, Column):
        return {node.name}
    return set().union(set(), *(columns(child) for child in _children(node)))


# -- parsing -------------------------------------------------------------------

@lru_cache(maxsize=1)
def _parser():
    from lark import Lark

    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


# What a parser's terminal is, in a message's words ("expected a column or a number").
_WORDS = {"NAME": "a column", "BACKTICKED": "a column", "NUMBER": "a number", "STRING": "a string",
          "OP": "a comparison (=, !=, <, <=, >, >=)", "_IN": "in", "_IS": "is", "_NOT": "not", "_AND": "and",
          "_OR": "or", "_NULL": "null", "_TRUE": "true", "_FALSE": "false", "LPAR": "(", "RPAR": ")",
          "LSQB": "[", "RSQB": "]", "COMMA": ",", "ADDOP": "+ or -", "MULOP": "* or /", "MINUS": "-"}


def _expected(terminals) -> str:
    words = sorted({_WORDS.get(t, t.lower()) for t in terminals or () if t != "$END"})
    if not words:
        return ""
    return "; expected " + (", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0])


def _pos(token) -> At:
    return (token.line, token.column) if getattr(token, "line", None) is not None else None


def where(at: At) -> str:
    """A position in words: "at column 8", or "at line 2, column 8" in a multi-line expression."""
    if at is None:
        return "in the expression"
    line, column = at
    return f"at column {column}" if line == 1 else f"at line {line}, column {column}"


def _end(text: str) -> str:
    lines = text.split("\n")
    return where((len(lines), len(lines[-1]) + 1))


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
        raise ExpressionError(f"{where((exc.line, exc.column))}: unexpected {text[exc.pos_in_stream]!r}"
                              f"{_expected(exc.allowed)}") from None
    except UnexpectedEOF as exc:
        raise ExpressionError(f"{_end(text)}: the expression ends too early{_expected(exc.expected)}") from None
    except UnexpectedToken as exc:
        found = "the end" if exc.token.type == "$END" else repr(str(exc.token))
        at = _end(text) if exc.column in (None, -1) else where((exc.line, exc.column))
        raise ExpressionError(f"{at}: unexpected {found}{_expected(exc.expected)}") from None
    except UnexpectedInput as exc:  # pragma: no cover - the three above are all Lark raises
        raise ExpressionError(f"{where((exc.line, exc.column))}: cannot read this") from None

    def unquote(token: Token) -> str:
        body = str(token)[1:-1]
        return body.replace('\\"', '"').replace("\\'", "'").replace("\\\\", "\\")

    @v_args(inline=True)
    class Build(Transformer):
        def number(self, token):
            return Literal(float(token), at=_pos(token))

        def negnumber(self, token):
            return Literal(-float(token), at=_pos(token))

        def string(self, token):
            return Literal(unquote(token), at=_pos(token))

        def quoted_name(self, token):
            return Column(str(token)[1:-1], at=_pos(token))

        def name(self, token):
            return Column(str(token), at=_pos(token))

        def true(self):
            return Literal(True)

        def false(self):
            return Literal(False)

        def neg(self, value):
            if isinstance(value, Literal) and isinstance(value.value, float):
                return Literal(-value.value, at=value.at)
            return Arith("-", Literal(0.0), value, at=value.at if hasattr(value, "at") else None)

        def compare(self, left, token, right):
            op = {"==": "=", "<>": "!="}.get(str(token), str(token))
            if isinstance(left, Literal) and isinstance(left.value, str):  # "Issue Type" = ...: a column
                left = Column(left.value, at=left.at)
            return Compare(op, left, right, at=_pos(token))

        def _subject(self, value):
            return Column(value.value, at=value.at) if isinstance(value, Literal) and isinstance(value.value, str) \
                else value

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
                node = Arith(str(op), node, right, at=_pos(op))
            return node

        def call(self, name, *args):
            function = str(name).lower()
            args = tuple(a for a in args if a is not None)
            if function not in FUNCTIONS:
                raise ExpressionError(f"{where(_pos(name))}: unknown function {str(name)!r} "
                                      f"(known: {', '.join(FUNCTIONS)})")
            if len(args) != FUNCTIONS[function]:
                wanted = FUNCTIONS[function]
                raise ExpressionError(f"{where(_pos(name))}: {function}() takes {wanted} "
                                      f"argument{'s' if wanted > 1 else ''}")
            return Call(function, args, at=_pos(name))

    from lark.exceptions import VisitError

    try:
        built = Build().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ExpressionError):
            raise exc.orig_exc from None
        if isinstance(exc.orig_exc, RecursionError):
            raise ExpressionError("the expression nests too deeply") from None
        raise
    except RecursionError:
        raise ExpressionError("the expression nests too deeply") from None
    if depth(built) > MAX_DEPTH:
        raise ExpressionError(f"the expression is more than {MAX_DEPTH} operations deep "
                              "(a long chain such as a + b + c + ...: compute part of it in a column)")
    return built


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
            hit = text.isin([o for o in n.options if isinstance(o, str)]).to_numpy().copy()  # |= below
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


# -- custom metrics: types, and the engine's expressions --------------------------

# What a source's column holds, in the expression's terms (cxtruth.schema kinds, and a
# custom source's type words).
_TYPES = {"text": "text", "int": "number", "integer": "number", "number": "number", "bool": "bool",
          "boolean": "bool", "date": "time", "datetime": "time"}
_NOUNS = {"text": "text", "number": "a number", "bool": "true/false", "time": "a date",
          "duration": "a duration", "condition": "a condition"}


def check(node: Node, kinds: dict[str, str], want: str) -> str:
    """The type of ``node`` over columns of ``kinds`` (column -> schema kind or type word);
    ``want`` is "condition" (a filter) or "number" (a value per row). Raises ExpressionError
    naming the position of the first mistake and what was expected there."""
    got = _type(node, {name: _TYPES[kind] for name, kind in kinds.items()})
    if want == "condition" and got not in ("condition", "bool"):
        raise ExpressionError(f"{where(_first(node))}: this is {_NOUNS[got]}; expected a condition "
                              "(e.g. rating >= 4, closed_at is not null)")
    if want == "number" and got != "number":
        hint = " (a difference of dates is written days(a - b))" if got in ("time", "duration") else ""
        raise ExpressionError(f"{where(_first(node))}: this is {_NOUNS[got]}; expected a number per row{hint}")
    return got


def _first(node: Node) -> At:
    """The position of the leftmost part of ``node`` (for a message about all of it)."""
    for name in ("left", "value", "part"):
        if hasattr(node, name):
            return _first(getattr(node, name)) or getattr(node, "at", None)
    if isinstance(node, Logic):
        return _first(node.parts[0])
    return getattr(node, "at", None)


def _type(node: Node, types: dict[str, str]) -> str:
    if isinstance(node, Column):
        if node.name not in types:
            raise ExpressionError(f"{where(node.at)}: unknown column {node.name!r}; expected one of: "
                                  f"{', '.join(types)}")
        return types[node.name]
    if isinstance(node, Literal):
        return "bool" if isinstance(node.value, bool) else "number" if isinstance(node.value, float) else "text"
    if isinstance(node, (Logic, Not)):
        for part in (node.parts if isinstance(node, Logic) else (node.part,)):
            if _type(part, types) not in ("condition", "bool"):
                raise ExpressionError(f"{where(_first(part))}: expected a condition on each side of "
                                      f"{'not' if isinstance(node, Not) else node.op}")
        return "condition"
    if isinstance(node, IsNull):
        _type(node.value, types)
        return "condition"
    if isinstance(node, In):
        got = _type(node.value, types)
        wanted = {"number" if isinstance(o, float) else "text" for o in node.options}
        if wanted and wanted != {got}:
            raise ExpressionError(f"{where(_first(node.value))}: {_NOUNS[got]} is listed against "
                                  f"{' and '.join(sorted(_NOUNS[w] for w in wanted))}; expected a list of "
                                  f"{_NOUNS[got] if got in ('text', 'number') else 'values of its type'}")
        return "condition"
    if isinstance(node, Compare):
        left, right = _type(node.left, types), _type(node.right, types)
        if left == "time" and right == "text" and isinstance(node.right, Literal):
            _date_literal(node.right)
        elif right == "time" and left == "text" and isinstance(node.left, Literal):
            _date_literal(node.left)
        elif left != right or left in ("condition", "duration") or (left == "bool" and node.op not in ("=", "!=")):
            raise ExpressionError(f"{where(node.at)}: cannot compare {_NOUNS[left]} with {_NOUNS[right]} "
                                  f"using {node.op}; expected two numbers, two texts or two dates")
        return "condition"
    if isinstance(node, Arith):
        left, right = _type(node.left, types), _type(node.right, types)
        if node.op == "-" and left == right == "time":
            return "duration"
        if left != "number" or right != "number":
            raise ExpressionError(f"{where(node.at)}: {node.op} needs two numbers, not {_NOUNS[left]} and "
                                  f"{_NOUNS[right]}" + ("; a difference of dates is written days(a - b)"
                                                       if "time" in (left, right) else ""))
        return "number"
    if isinstance(node, Call):
        inner = _type(node.args[0], types)
        if node.function == "days":
            if inner != "duration":
                raise ExpressionError(f"{where(node.at)}: days() takes a difference of two dates "
                                      "(days(closed_at - received_at))")
            return "number"
        if node.function in ("lower", "trim"):
            if inner != "text":
                raise ExpressionError(f"{where(node.at)}: {node.function}() takes text, not {_NOUNS[inner]}")
            return "text"
        raise ExpressionError(f"{where(node.at)}: {node.function}() computes a source's column "
                              "([sources.<name>.compute]); a metric's expression cannot use it")
    raise ExpressionError(f"{where(getattr(node, 'at', None))}: cannot read this")  # pragma: no cover


def _date_literal(node: Literal):
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(node.value)
    except ValueError:
        raise ExpressionError(f"{where(node.at)}: {node.value!r} is not a date; expected an ISO 8601 date "
                              "such as \"2026-01-31\"") from None


def to_ibis(node: Node, table):
    """``node`` as an Ibis expression over ``table`` (checked first with `check`). A
    comparison with a NULL is NULL, so a filter leaves such a row out; days(a - b) is the
    exact difference in days (whole microseconds, as `stats.days_from_us` divides them)."""
    import ibis

    if isinstance(node, Column):
        return table[node.name]
    if isinstance(node, Literal):
        return ibis.literal(node.value)
    if isinstance(node, Logic):
        parts = [to_ibis(p, table) for p in node.parts]
        out = parts[0]
        for part in parts[1:]:
            out = (out & part) if node.op == "and" else (out | part)
        return out
    if isinstance(node, Not):
        return ~to_ibis(node.part, table)
    if isinstance(node, IsNull):
        value = to_ibis(node.value, table)
        return value.notnull() if node.negated else value.isnull()
    if isinstance(node, In):
        value = to_ibis(node.value, table)
        return value.notin(list(node.options)) if node.negated else value.isin(list(node.options))
    if isinstance(node, Compare):
        left, right = to_ibis(node.left, table), to_ibis(node.right, table)
        if isinstance(node.right, Literal) and isinstance(node.right.value, str) and left.type().is_temporal():
            right = ibis.literal(_date_literal(node.right), type=left.type())
        if isinstance(node.left, Literal) and isinstance(node.left.value, str) and right.type().is_temporal():
            left = ibis.literal(_date_literal(node.left), type=right.type())
        return {"=": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
                ">": left > right, ">=": left >= right}[node.op]
    if isinstance(node, Arith):
        left, right = to_ibis(node.left, table), to_ibis(node.right, table)
        if node.op == "/":  # dividing by 0 is unknown (NULL), as in the row filters
            return left / ibis.ifelse(right == 0, ibis.null("float64"), right.cast("float64"))
        return {"+": left + right, "-": left - right, "*": left * right}[node.op]
    if isinstance(node, Call) and node.function == "days":
        return microseconds(node, table).cast("float64") * 1000 / 86_400e9
    if isinstance(node, Call) and node.function in ("lower", "trim"):
        inner = to_ibis(node.args[0], table)
        return inner.lower() if node.function == "lower" else inner.strip()
    raise ExpressionError(f"{where(getattr(node, 'at', None))}: cannot compute this")  # pragma: no cover


def microseconds(node: Call, table):
    """days(a - b) as whole microseconds (an integer the engine sums and ranks exactly)."""
    difference = node.args[0]
    return to_ibis(difference.left, table).delta(to_ibis(difference.right, table), unit="microsecond")


def is_days(node: Node) -> bool:
    """Whether ``node`` is days(a - b) itself (its values are ranked and summed as microseconds)."""
    return isinstance(node, Call) and node.function == "days"
