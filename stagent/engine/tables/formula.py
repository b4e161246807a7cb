"""A small safe expression language for computed columns (no `eval`).

    {{price}} * {{qty}}                      arithmetic: + - * / % and parentheses
    concat({{first}}, " ", {{last}})         text: concat(), or + / & with text
    daysBetween({{start}}, {{end}})          dates: days from the first to the second; today()
    if({{score}} >= 50, "pass", "fail")      comparisons == != < <= > >= (= and <> too), and/or/not
    sum({{a}}, {{b}}) avg min max count      aggregates over their arguments; abs round floor ceil

`parse` turns a formula into a tree of tuples once (refusing bad syntax with a message that says
where); `evaluate` walks it against a row's data. An empty cell propagates as None through
arithmetic; division by zero gives None. Formulas are bounded in length and nesting.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from .columns import parse_date

MAX_FORMULA = 2000
MAX_DEPTH = 40
_TOKEN = re.compile(r"""\s*(?:
    (?P<ref>\{\{\s*(?P<refname>[^{}]+?)\s*\}\})
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<op>==|!=|<>|<=|>=|&&|\|\||[-+*/%&<>=!(),])
)""", re.VERBOSE)
_KEYWORDS = {"and": "&&", "or": "||", "not": "!"}
_CONSTANTS = {"true": True, "false": False, "null": None}


class FormulaError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, object]]:
    if len(text) > MAX_FORMULA:
        raise FormulaError(f"formula is longer than {MAX_FORMULA} characters")
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise FormulaError(f"unexpected character {text[pos:].strip()[0]!r} at position {pos + 1}")
        pos = match.end()
        if match["ref"]:
            out.append(("ref", match["refname"]))
        elif match["number"]:
            out.append(("num", float(match["number"])))
        elif match["string"]:
            out.append(("str", re.sub(r"\\(.)", r"\1", match["string"][1:-1])))
        elif match["name"]:
            word = match["name"]
            out.append(("op", _KEYWORDS[word.lower()]) if word.lower() in _KEYWORDS else ("name", word))
        else:
            out.append(("op", match["op"]))
    return out


class _Parser:
    def __init__(self, tokens):
        self.tokens, self.i, self.depth = tokens, 0, 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", None)

    def take(self, value=None):
        token = self.peek()
        if value is not None and token != ("op", value):
            found = "the end" if token[0] == "end" else repr(token[1])
            raise FormulaError(f"expected {value!r} but found {found}")
        self.i += 1
        return token

    def binary(self, ops, next_level):
        left = next_level()
        while self.peek()[0] == "op" and self.peek()[1] in ops:
            op = self.take()[1]
            left = ("bin", {"=": "==", "<>": "!="}.get(op, op), left, next_level())
        return left

    def expr(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError("formula is nested too deeply")
        node = self.binary(("||",), lambda: self.binary(("&&",), self.negation))
        self.depth -= 1
        return node

    def negation(self):
        if self.peek() == ("op", "!"):
            self.take()
            return ("not", self.negation())
        return self.binary(("==", "!=", "<>", "=", "<", "<=", ">", ">="), self.additive)

    def additive(self):
        return self.binary(("+", "-", "&"), lambda: self.binary(("*", "/", "%"), self.unary))

    def unary(self):
        if self.peek() == ("op", "-"):
            self.take()
            return ("neg", self.unary())
        if self.peek() == ("op", "+"):
            self.take()
            return self.unary()
        return self.primary()

    def primary(self):
        kind, value = self.take()
        if kind in ("num", "str"):
            return ("lit", value)
        if kind == "ref":
            return ("ref", value)
        if kind == "name":
            if value.lower() in _CONSTANTS:
                return ("lit", _CONSTANTS[value.lower()])
            if value not in FUNCTIONS:
                raise FormulaError(f"unknown function {value!r}")
            self.take("(")
            args = []
            if self.peek() != ("op", ")"):
                args.append(self.expr())
                while self.peek() == ("op", ","):
                    self.take()
                    args.append(self.expr())
            self.take(")")
            return ("call", value, tuple(args))
        if (kind, value) == ("op", "("):
            node = self.expr()
            self.take(")")
            return node
        raise FormulaError("unexpected end of formula" if kind == "end" else f"unexpected {value!r}")


def parse(text: str):
    """The formula as a tree, or FormulaError saying what is wrong."""
    parser = _Parser(_tokens(text))
    if parser.peek()[0] == "end":
        raise FormulaError("formula is empty")
    tree = parser.expr()
    if parser.peek()[0] != "end":
        raise FormulaError(f"unexpected {parser.peek()[1]!r} after the end of the expression")
    return tree


def references(tree) -> set[str]:
    """Column names the formula reads."""
    if tree[0] == "ref":
        return {tree[1]}
    children = tree[2] if tree[0] == "call" else tree[1:] if tree[0] in ("bin", "not", "neg") else ()
    found: set[str] = set()
    for child in children:
        if isinstance(child, tuple):
            found |= references(child)
    return found


def _num(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value.replace(",", ""))
        except ValueError:
            return None
    return None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _numbers(args):
    return [n for n in (_num(a) for a in args) if n is not None]


def _days_between(a, b):
    first, second = parse_date(a), parse_date(b)
    return None if first is None or second is None else (second - first).days


def _round(x, digits=0):
    n, d = _num(x), _num(digits)
    return None if n is None or d is None else round(n, int(d))


def _unary_math(fn):
    return lambda x: None if _num(x) is None else fn(_num(x))


FUNCTIONS = {
    "sum": lambda *a: sum(_numbers(a)),
    "avg": lambda *a: (sum(_numbers(a)) / len(_numbers(a))) if _numbers(a) else None,
    "min": lambda *a: min(_numbers(a)) if _numbers(a) else None,
    "max": lambda *a: max(_numbers(a)) if _numbers(a) else None,
    "count": lambda *a: sum(1 for v in a if v is not None and v != ""),
    "daysBetween": _days_between,
    "today": lambda: datetime.now(UTC).date().isoformat(),
    "concat": lambda *a: "".join(_text(v) for v in a),
    "abs": _unary_math(abs),
    "round": _round,
    "floor": _unary_math(math.floor),
    "ceil": _unary_math(math.ceil),
}


def _compare(op, a, b):
    if op in ("==", "!="):
        if _num(a) is not None and _num(b) is not None and not (isinstance(a, str) and isinstance(b, str)):
            equal = _num(a) == _num(b)
        else:
            equal = a == b
        return equal if op == "==" else not equal
    if a is None or b is None:
        return False
    if isinstance(a, str) and isinstance(b, str):
        pair = (a, b)
    else:
        pair = (_num(a), _num(b))
        if None in pair:
            return False
    return {"<": pair[0] < pair[1], "<=": pair[0] <= pair[1], ">": pair[0] > pair[1], ">=": pair[0] >= pair[1]}[op]


def _arith(op, a, b):
    if op == "&" or (op == "+" and (isinstance(a, str) and _num(a) is None or isinstance(b, str) and _num(b) is None)):
        return _text(a) + _text(b)
    x, y = _num(a), _num(b)
    if x is None or y is None:
        return None
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if y == 0:
        return None
    return x / y if op == "/" else math.fmod(x, y)


def evaluate(tree, data: dict):
    kind = tree[0]
    if kind == "lit":
        return tree[1]
    if kind == "ref":
        return data.get(tree[1])
    if kind == "neg":
        value = _num(evaluate(tree[1], data))
        return None if value is None else -value
    if kind == "not":
        return not _truthy(evaluate(tree[1], data))
    if kind == "call":
        name, args = tree[1], tree[2]
        if name == "if":  # only the branch taken is evaluated
            if len(args) not in (2, 3):
                return None
            branch = args[1] if _truthy(evaluate(args[0], data)) else (args[2] if len(args) == 3 else None)
            return None if branch is None else evaluate(branch, data)
        try:
            return FUNCTIONS[name](*(evaluate(a, data) for a in args))
        except TypeError:  # wrong number of arguments
            return None
    op, left = tree[1], evaluate(tree[2], data)
    if op == "&&":
        return _truthy(left) and _truthy(evaluate(tree[3], data))
    if op == "||":
        return _truthy(left) or _truthy(evaluate(tree[3], data))
    right = evaluate(tree[3], data)
    if op in ("==", "!=", "<", "<=", ">", ">="):
        return _compare(op, left, right)
    return _arith(op, left, right)


FUNCTIONS["if"] = None  # handled in evaluate (lazily); listed so parse accepts it


def _truthy(value) -> bool:
    return value not in (None, "", 0, False)


def tidy(value):
    """A result as stored: whole floats as ints, finite numbers only."""
    if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
        value = float(value)  # as SQLite would hold it (OverflowError past a float: no value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else round(value, 10)
    return value
