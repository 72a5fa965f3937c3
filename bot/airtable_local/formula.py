"""Airtable formulas: a parser and evaluator for the subset used in filterByFormula.

Interface (used by the server's store):

- ``compile_formula(text) -> CompiledFormula``; raises ``FormulaError`` (the server answers
  422 INVALID_FILTER_BY_FORMULA) for anything it does not know: syntax errors, unknown
  functions, wrong argument counts.
- ``CompiledFormula.field_names``: the field names the formula references, so the server
  can reject unknown fields before evaluating anything.
- ``CompiledFormula.evaluate(ctx)`` returns the formula's value for one record, and
  ``CompiledFormula.matches(ctx)`` its truthiness as Airtable filters by it;
  ``CompiledFormula.select(items, ctx, point)`` filters many records in one loop.
- ``ctx`` is any object with ``record_id: str``, ``created_time: str`` and
  ``last_modified_time: str`` (ISO 8601), ``fields_modified_time(field_names) -> str | None``
  (ISO 8601; see LAST_MODIFIED_TIME below) and ``value(field_name) -> Any``: ``None`` for an
  empty field, ``str`` for text, url, date (``YYYY-MM-DD``), dateTime (ISO 8601) and single
  selects, ``int``/``float`` for numbers, ``bool`` for checkboxes, ``list[str]`` for linked
  records (their primary values) and multiple selects.

The language is what ``pyairtable.formulas`` and its ORM emit, plus what a person writes for
a lookup:

- field references ``{Name}``, where ``\\}`` stands for ``}`` as ``formulas.field_name``
  escapes it (no other escapes: a field name ending in a backslash cannot be referenced,
  as in Airtable); bare field names are not supported;
- string literals in single or double quotes with the escapes ``\\\\ \\' \\" \\n \\t \\r``
  (``formulas.quoted`` escapes exactly the backslash and the single quote);
- numbers (``3``, ``-2.5``, ``.5``, ``1e3``), ``TRUE()``, ``FALSE()``, ``BLANK()``;
- the operators, from loosest to tightest: ``= != < <= > >=``, ``&``, ``+ -``, ``* /``,
  unary ``-``; all binary operators associate to the left; parentheses group;
- the functions (names are case-insensitive) AND, OR, NOT, IF, RECORD_ID, LOWER, UPPER,
  TRIM, LEN, FIND, SEARCH, ARRAYJOIN, CONCATENATE, DATETIME_PARSE, IS_BEFORE, IS_AFTER,
  NOW, CREATED_TIME and LAST_MODIFIED_TIME.

``LAST_MODIFIED_TIME()`` is when any field of the record last changed (its creation time
if none has); ``LAST_MODIFIED_TIME({A}, {B})`` when the latest of the named fields did,
blank if none of them has ever been set. Its arguments must be field references (anything
else is a ``FormulaError``), and they count in ``field_names``.

Compiling folds calls of constants (``DATETIME_PARSE('2026-12-02T04:00:00.000Z')`` is
parsed once, not once per record) and turns ``IS_AFTER``/``IS_BEFORE`` of a record's
``CREATED_TIME()`` or ``LAST_MODIFIED_TIME(...)`` against a constant moment into one direct
comparison, so the filter that reads only what changed stays cheap on large tables.

Values are ``None`` (blank), ``str``, ``int``/``float``, ``bool``, timezone-aware
``datetime`` and, straight from a field, ``list``. A formula that fails while evaluating
(division by zero, a date that does not parse, arithmetic on text) has Airtable's
``#ERROR!`` value: ``evaluate`` returns ``ERROR`` and ``matches`` is false.

Nesting (parentheses, function calls, unary minus) is limited to ``MAX_DEPTH`` levels, so
hostile input gets a ``FormulaError`` rather than a ``RecursionError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeAlias, TypeVar

__all__ = [
    "ERROR",
    "MAX_DEPTH",
    "CompiledFormula",
    "FormulaContext",
    "FormulaError",
    "compile_formula",
]

MAX_DEPTH: Final = 100
"""How deeply parentheses, function calls and unary minus may nest."""

Value: TypeAlias = str | int | float | bool | datetime | list[Any] | None
T = TypeVar("T")


class FormulaError(ValueError):
    """A formula that cannot be compiled: bad syntax, unknown function, wrong arity."""


class _ErrorValue:
    """The type of ``ERROR``, Airtable's ``#ERROR!`` value."""

    def __repr__(self) -> str:
        return "ERROR"

    def __bool__(self) -> bool:
        return False


ERROR: Final = _ErrorValue()
"""What ``CompiledFormula.evaluate`` returns when the formula fails for a record."""


class FormulaContext(Protocol):
    """The record a formula is evaluated against."""

    @property
    def record_id(self) -> str:
        """The record's id, ``rec...``."""

    @property
    def created_time(self) -> str:
        """When the record was created, ISO 8601."""

    @property
    def last_modified_time(self) -> str:
        """When any field of the record last changed (when it was created if none has since),
        ISO 8601."""

    def fields_modified_time(self, field_names: tuple[str, ...]) -> str | None:
        """When the latest of these fields last changed, ISO 8601; ``None`` if none of them
        has ever been set."""

    def value(self, field_name: str) -> Any:
        """The field's value, ``None`` when the field is empty."""


class _EvalError(Exception):
    """Raised while evaluating to produce Airtable's ``#ERROR!``."""


# --- Coercions ------------------------------------------------------------------------------

_NUMERIC_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _as_float(number: int | float) -> float:
    """Return ``number`` as a float, saturating huge ints to infinity."""
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf


def _number_result(number: float) -> int | float:
    """Normalise an arithmetic result: integral values become ``int``; NaN is an error."""
    if math.isnan(number):
        raise _EvalError("the result is not a number")
    if number.is_integer() and abs(number) <= 2**53:
        return int(number)
    return number


def _number_text(number: int | float) -> str:
    """Format a number as Airtable (JavaScript) prints it: ``3``, not ``3.0``."""
    if isinstance(number, int) and abs(number) < 10**21:
        return str(number)
    number = _as_float(number)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    return repr(number)


def _datetime_text(moment: datetime) -> str:
    """Format a (UTC) datetime as the Airtable API does: ``2024-01-02T03:04:05.000Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _to_text(value: Value) -> str:
    """Coerce a value to text; lists join their items with ``", "``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return _number_text(value)
    if isinstance(value, datetime):
        return _datetime_text(value)
    if isinstance(value, list):
        return ", ".join(_to_text(item) for item in value)
    return str(value)


def _to_number(value: Value) -> float | None:
    """Coerce a value to a number, or ``None`` when it is not numeric (blank counts as 0)."""
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return _as_float(value)
    if isinstance(value, str | list):
        text = _to_text(value).strip()
        if not text:
            return 0.0
        if _NUMERIC_TEXT.fullmatch(text):
            return float(text)
    return None


def _to_datetime(value: Value) -> datetime | None:
    """Coerce a value to an aware UTC datetime, or ``None``; naive times are taken as UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str | list):
        try:
            moment = datetime.fromisoformat(_to_text(value).strip())
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def _truthy(value: Value) -> bool:
    """Airtable's truthiness: blank, ``''``, ``0``, NaN and ``FALSE()`` are false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0 and not math.isnan(value)
    if isinstance(value, datetime):
        return True
    return _to_text(value) != ""


def _require_number(value: Value) -> float:
    """Coerce a value to a number or fail the evaluation."""
    number = _to_number(value)
    if number is None or math.isnan(number):
        raise _EvalError(f"{_to_text(value)!r} is not a number")
    return number


def _require_datetime(value: Value) -> datetime:
    """Coerce a value to a datetime or fail the evaluation."""
    moment = _to_datetime(value)
    if moment is None:
        raise _EvalError(f"{_to_text(value)!r} is not a date")
    return moment


def _normalize_field(value: Any) -> Value:
    """Bring a field value from the ctx into the evaluator's value types."""
    if isinstance(value, datetime):
        return _to_datetime(value)
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple):
        # An empty linked-record or multiple-select field is blank, like an empty text field.
        return list(value) if value else None
    return str(value)


# --- Operators ------------------------------------------------------------------------------


def _is_blank(value: Value) -> bool:
    """Whether a value equals BLANK(): blank, ``''``, ``0`` and ``FALSE()`` do."""
    if isinstance(value, datetime):
        return False
    if isinstance(value, int | float):
        return value == 0
    return _to_text(value) == ""


def _equals(left: Value, right: Value) -> bool:
    """Airtable's ``=``: text comparison as soon as either side is text."""
    if left is None or right is None:
        return _is_blank(right if left is None else left)
    if isinstance(left, datetime) or isinstance(right, datetime):
        left_time, right_time = _to_datetime(left), _to_datetime(right)
        return left_time is not None and left_time == right_time
    if isinstance(left, str | list) or isinstance(right, str | list):
        return _to_text(left) == _to_text(right)
    return _to_number(left) == _to_number(right)


def _compare(left: Value, right: Value) -> int | None:
    """Order two values (-1, 0, 1), or ``None`` when they cannot be ordered.

    Dates compare as dates, anything against a number compares numerically (text that is
    not a number cannot be ordered against a number, like JavaScript's NaN), and the rest
    compares as text.
    """
    if isinstance(left, datetime) or isinstance(right, datetime):
        left_time, right_time = _to_datetime(left), _to_datetime(right)
        if left_time is None or right_time is None:
            return None
        return (left_time > right_time) - (left_time < right_time)
    if isinstance(left, int | float) or isinstance(right, int | float):
        left_number, right_number = _to_number(left), _to_number(right)
        if left_number is None or right_number is None:
            return None
        return (left_number > right_number) - (left_number < right_number)
    left_text, right_text = _to_text(left), _to_text(right)
    return (left_text > right_text) - (left_text < right_text)


def _ordering(test: Callable[[int], bool]) -> Callable[[Value, Value], Value]:
    """Build an ordering operator; values that cannot be ordered compare false."""

    def operator(left: Value, right: Value) -> Value:
        order = _compare(left, right)
        return order is not None and test(order)

    return operator


def _divide(left: Value, right: Value) -> Value:
    """Airtable's ``/``; dividing by zero is an error."""
    divisor = _require_number(right)
    if divisor == 0:
        raise _EvalError("division by zero")
    return _number_result(_require_number(left) / divisor)


_BINARY: Final[dict[str, Callable[[Value, Value], Value]]] = {
    "=": _equals,
    "!=": lambda left, right: not _equals(left, right),
    "<": _ordering(lambda order: order < 0),
    "<=": _ordering(lambda order: order <= 0),
    ">": _ordering(lambda order: order > 0),
    ">=": _ordering(lambda order: order >= 0),
    "&": lambda left, right: _to_text(left) + _to_text(right),
    "+": lambda left, right: _number_result(_require_number(left) + _require_number(right)),
    "-": lambda left, right: _number_result(_require_number(left) - _require_number(right)),
    "*": lambda left, right: _number_result(_require_number(left) * _require_number(right)),
    "/": _divide,
}

# Binding strength of each binary operator; higher binds tighter.
_LEVELS: Final[dict[str, int]] = {
    **dict.fromkeys(("=", "!=", "<", "<=", ">", ">="), 0),
    "&": 1,
    "+": 2,
    "-": 2,
    "*": 3,
    "/": 3,
}


# --- Syntax tree ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Value

    def evaluate(self, ctx: FormulaContext) -> Value:
        return self.value


@dataclass(frozen=True, slots=True)
class _FieldRef:
    name: str

    def evaluate(self, ctx: FormulaContext) -> Value:
        return _normalize_field(ctx.value(self.name))


@dataclass(frozen=True, slots=True)
class _Negate:
    operand: _Node

    def evaluate(self, ctx: FormulaContext) -> Value:
        return _number_result(-_require_number(self.operand.evaluate(ctx)))


@dataclass(frozen=True, slots=True)
class _Chain:
    """Operators of one binding strength applied left to right: ``a + b - c``.

    Keeping a chain flat (rather than nesting binary nodes) keeps evaluation iterative, so
    a long run like ``a & b & c & ...`` cannot exhaust the stack.
    """

    first: _Node
    rest: tuple[tuple[str, _Node], ...]

    def evaluate(self, ctx: FormulaContext) -> Value:
        value = self.first.evaluate(ctx)
        for operator, operand in self.rest:
            value = _BINARY[operator](value, operand.evaluate(ctx))
        return value


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: tuple[_Node, ...]
    impl: _Impl = field(repr=False, compare=False)

    def evaluate(self, ctx: FormulaContext) -> Value:
        return self.impl(self.args, ctx)


def _record_time(text: str) -> datetime:
    """A record's time as the context gives it (ISO 8601, normally ``...000Z``), in UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise _EvalError(f"{text!r} is not a date") from None
    if moment.tzinfo is UTC:
        return moment
    return _require_datetime(moment)


def _record_stamp(fields: tuple[str, ...] | None, ctx: FormulaContext) -> str | None:
    """The time ``_RecordTime(fields)`` stands for, as the context gives it."""
    if fields is None:
        return ctx.created_time
    if fields:
        return ctx.fields_modified_time(fields)
    return ctx.last_modified_time


@dataclass(frozen=True, slots=True)
class _RecordTime:
    """``CREATED_TIME()`` (``fields`` is None) or ``LAST_MODIFIED_TIME(fields...)``."""

    fields: tuple[str, ...] | None

    def evaluate(self, ctx: FormulaContext) -> datetime | None:
        stamp = _record_stamp(self.fields, ctx)
        return None if stamp is None else _record_time(stamp)


def _is_stamp(text: str) -> bool:
    """Whether ``text`` has the one shape the store writes times in, ``YYYY-MM-DDTHH:MM:SS.mmmZ``.

    Times of that shape compare as text in time order. Only the shape is looked at (a
    month 13 would pass), which is enough for the times the store writes itself.
    """
    return len(text) == 24 and text[10] == "T" and text[19] == "." and text[23] == "Z"


@dataclass(frozen=True, slots=True)
class _TimeBound:
    """``IS_AFTER``/``IS_BEFORE`` of a record's time and a constant moment, as one comparison.

    ``later`` says whether it is true when the record's time is later than ``bound``
    (``IS_AFTER(CREATED_TIME(), x)``, ``IS_BEFORE(x, CREATED_TIME())``) or earlier. A blank
    time is an error, as it is for the functions it stands for. A time in the store's own
    shape (see :func:`_is_stamp`) is compared as text with ``bound_text``, the bound in that
    shape, when the bound has one: for such times text order is time order, and nothing is
    parsed per record.
    """

    fields: tuple[str, ...] | None  # as in _RecordTime
    bound: datetime
    bound_text: str | None
    later: bool

    def evaluate(self, ctx: FormulaContext) -> Value:
        # _record_stamp(self.fields, ctx), inlined: this runs for every record.
        fields = self.fields
        if fields is None:
            stamp: str | None = ctx.created_time
        elif fields:
            stamp = ctx.fields_modified_time(fields)
        else:
            stamp = ctx.last_modified_time
        if stamp is None:
            raise _EvalError("a blank time is not a date")
        bound_text = self.bound_text
        # _is_stamp(stamp), inlined: this runs for every record.
        if (
            bound_text is not None
            and len(stamp) == 24
            and stamp[10] == "T"
            and stamp[19] == "."
            and stamp[23] == "Z"
        ):
            return stamp > bound_text if self.later else stamp < bound_text
        moment = _record_time(stamp)
        return moment > self.bound if self.later else moment < self.bound


@dataclass(frozen=True, slots=True)
class _AnyOf:
    """``OR(...)``: true as soon as one argument is (it evaluates no further)."""

    args: tuple[_Node, ...]

    def evaluate(self, ctx: FormulaContext) -> Value:
        # Booleans are looked at before _truthy is called: this runs for every record.
        for arg in self.args:
            value = arg.evaluate(ctx)
            if value is True or (value is not False and _truthy(value)):
                return True
        return False


@dataclass(frozen=True, slots=True)
class _AllOf:
    """``AND(...)``: false as soon as one argument is (it evaluates no further)."""

    args: tuple[_Node, ...]

    def evaluate(self, ctx: FormulaContext) -> Value:
        for arg in self.args:
            value = arg.evaluate(ctx)
            if value is False or (value is not True and not _truthy(value)):
                return False
        return True


_Node: TypeAlias = (
    _Literal | _FieldRef | _Negate | _Chain | _Call | _RecordTime | _TimeBound | _AnyOf | _AllOf
)
_Impl: TypeAlias = Callable[[tuple[_Node, ...], FormulaContext], Value]


# --- Functions ------------------------------------------------------------------------------


def _eager(function: Callable[..., Value]) -> _Impl:
    """Wrap a function of values into one that evaluates its argument nodes first."""

    def impl(args: tuple[_Node, ...], ctx: FormulaContext) -> Value:
        return function(*(arg.evaluate(ctx) for arg in args))

    return impl


def _constant(value: Value) -> _Impl:
    """A function of no arguments that returns ``value``."""
    return lambda args, ctx: value


def _built_by_parser(args: tuple[_Node, ...], ctx: FormulaContext) -> Value:
    """The stand-in implementation of functions the parser turns into their own nodes."""
    raise AssertionError("the parser builds these calls as nodes of their own")


def _not(args: tuple[_Node, ...], ctx: FormulaContext) -> Value:
    return not _truthy(args[0].evaluate(ctx))


def _if(args: tuple[_Node, ...], ctx: FormulaContext) -> Value:
    if _truthy(args[0].evaluate(ctx)):
        return args[1].evaluate(ctx)
    # IF(condition, value) is blank when the condition is false.
    return args[2].evaluate(ctx) if len(args) == 3 else None


def _find_position(needle: Value, haystack: Value, start: Value) -> int:
    """1-based position of ``needle`` in ``haystack`` from position ``start``, or 0.

    Positions count code points, where Airtable (JavaScript) counts UTF-16 units; they
    differ only for characters outside the Basic Multilingual Plane, such as emoji.
    """
    text = _to_text(haystack)
    begin = _require_number(start)  # blank (the default) and 0 both mean "from the start"
    if begin > len(text) + 1:
        return 0
    return text.find(_to_text(needle), int(max(begin, 1.0)) - 1) + 1


def _find(needle: Value, haystack: Value, start: Value = None) -> Value:
    return _find_position(needle, haystack, start)


def _search(needle: Value, haystack: Value, start: Value = None) -> Value:
    # Airtable documents one difference from FIND: not found is blank instead of 0.
    # Unlike Excel's, Airtable's SEARCH is case-sensitive too (the reference calls neither
    # case-insensitive, and the usual advice is SEARCH(LOWER(...), LOWER(...))).
    return _find_position(needle, haystack, start) or None


def _arrayjoin(values: Value, separator: Value = ", ") -> Value:
    if isinstance(values, list):
        return _to_text(separator).join(_to_text(item) for item in values)
    return _to_text(values)


@dataclass(frozen=True, slots=True)
class _Function:
    min_args: int
    max_args: int | None
    impl: _Impl

    def arity(self) -> str:
        """Describe the accepted argument count for error messages."""
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' * (self.min_args != 1)}"
        if self.max_args == 0:
            return "no arguments"
        if self.min_args == self.max_args:
            return f"exactly {self.min_args} argument{'s' * (self.min_args != 1)}"
        return f"{self.min_args} to {self.max_args} arguments"


_FUNCTIONS: Final[dict[str, _Function]] = {
    "AND": _Function(1, None, _built_by_parser),
    "OR": _Function(1, None, _built_by_parser),
    "NOT": _Function(1, 1, _not),
    "IF": _Function(2, 3, _if),
    "TRUE": _Function(0, 0, _constant(True)),
    "FALSE": _Function(0, 0, _constant(False)),
    "BLANK": _Function(0, 0, _constant(None)),
    "RECORD_ID": _Function(0, 0, lambda args, ctx: ctx.record_id),
    "CREATED_TIME": _Function(0, 0, _built_by_parser),
    "LAST_MODIFIED_TIME": _Function(0, None, _built_by_parser),
    "NOW": _Function(0, 0, lambda args, ctx: datetime.now(UTC)),
    "LOWER": _Function(1, 1, _eager(lambda value: _to_text(value).lower())),
    "UPPER": _Function(1, 1, _eager(lambda value: _to_text(value).upper())),
    "TRIM": _Function(1, 1, _eager(lambda value: _to_text(value).strip())),
    "LEN": _Function(1, 1, _eager(lambda value: len(_to_text(value)))),
    "FIND": _Function(2, 3, _eager(_find)),
    "SEARCH": _Function(2, 3, _eager(_search)),
    "ARRAYJOIN": _Function(1, 2, _eager(_arrayjoin)),
    "CONCATENATE": _Function(1, None, _eager(lambda *values: "".join(map(_to_text, values)))),
    "DATETIME_PARSE": _Function(1, 1, _eager(_require_datetime)),
    "IS_BEFORE": _Function(
        2, 2, _eager(lambda left, right: _require_datetime(left) < _require_datetime(right))
    ),
    "IS_AFTER": _Function(
        2, 2, _eager(lambda left, right: _require_datetime(left) > _require_datetime(right))
    ),
}


# --- Tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "number", "string", "field", "name", "op", "(", ")", ",", "end"
    text: str  # the decoded text: a string's value, a field's name, an operator
    position: int

    def describe(self) -> str:
        """Describe the token for error messages."""
        if self.kind == "end":
            return "end of formula"
        if self.kind == "string":
            return f"string {self.text!r}"
        if self.kind == "field":
            return f"field {{{self.text}}}"
        return f"{self.text!r}"


_WHITESPACE: Final = frozenset(" \t\r\n\f\v\u00a0")
_NUMBER: Final = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS: Final = ("!=", "<=", ">=", "=", "<", ">", "&", "+", "-", "*", "/")
_ESCAPES: Final = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


def _read_string(source: str, start: int) -> tuple[str, int]:
    """Read the string literal opening at ``start``; return its value and the next index."""
    quote = source[start]
    parts: list[str] = []
    index = start + 1
    while index < len(source):
        char = source[index]
        if char == quote:
            return "".join(parts), index + 1
        if char == "\\":
            escaped = source[index + 1 : index + 2]
            if not escaped:
                break
            if escaped not in _ESCAPES:
                raise FormulaError(
                    f"unknown escape '\\{escaped}' at position {index}; "
                    "write '\\\\' for a backslash"
                )
            parts.append(_ESCAPES[escaped])
            index += 2
        else:
            parts.append(char)
            index += 1
    raise FormulaError(f"unterminated string starting at position {start}")


def _read_field(source: str, start: int) -> tuple[str, int]:
    """Read the ``{field}`` opening at ``start``; return its name and the next index."""
    parts: list[str] = []
    index = start + 1
    while index < len(source):
        char = source[index]
        if char == "}":
            if not parts:
                raise FormulaError(f"empty field reference '{{}}' at position {start}")
            return "".join(parts), index + 1
        if char == "\\" and source.startswith("}", index + 1):
            parts.append("}")
            index += 2
        else:
            parts.append(char)
            index += 1
    raise FormulaError(f"unterminated field reference starting at position {start}")


def _tokenize(source: str) -> list[_Token]:
    """Split a formula into tokens, ending with an ``end`` token."""
    tokens: list[_Token] = []
    index = 0
    while index < len(source):
        char = source[index]
        start = index
        if char in _WHITESPACE:
            index += 1
            continue
        if char in "'\"":
            text, index = _read_string(source, start)
            tokens.append(_Token("string", text, start))
        elif char == "{":
            text, index = _read_field(source, start)
            tokens.append(_Token("field", text, start))
        elif char in "(),":
            tokens.append(_Token(char, char, start))
            index += 1
        elif match := _NUMBER.match(source, index) or _NAME.match(source, index):
            kind = "number" if match.re is _NUMBER else "name"
            tokens.append(_Token(kind, match.group(), start))
            index = match.end()
        elif operator := next((op for op in _OPERATORS if source.startswith(op, index)), None):
            tokens.append(_Token("op", operator, start))
            index += len(operator)
        else:
            raise FormulaError(f"unexpected character {char!r} at position {index}")
    tokens.append(_Token("end", "", len(source)))
    return tokens


# --- Parser ---------------------------------------------------------------------------------


def _parse_number(text: str) -> int | float:
    """The value of a number literal."""
    if text.isdigit() and len(text) <= 15:
        return int(text)
    return _number_result(float(text))


class _Parser:
    """Recursive descent over the tokens, with precedence climbing for the operators."""

    def __init__(self, source: str) -> None:
        self._tokens = _tokenize(source)
        self._index = 0
        self._depth = 0
        self.field_names: set[str] = set()

    def parse(self) -> _Node:
        """Parse the whole formula."""
        if self._peek().kind == "end":
            raise FormulaError("the formula is empty")
        node = self._expression(0)
        token = self._peek()
        if token.kind != "end":
            raise FormulaError(
                f"unexpected {token.describe()} at position {token.position}; "
                "expected an operator or the end of the formula"
            )
        return node

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind != "end":
            self._index += 1
        return token

    def _expect(self, kind: str, context: str) -> None:
        token = self._advance()
        if token.kind != kind:
            raise FormulaError(
                f"expected {kind!r} {context} at position {token.position}, "
                f"found {token.describe()}"
            )

    @contextmanager
    def _nested(self, token: _Token) -> Iterator[None]:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise FormulaError(
                f"the formula nests more than {MAX_DEPTH} levels deep at position {token.position}"
            )
        yield
        self._depth -= 1

    def _level(self) -> int | None:
        """The binding strength of the binary operator at hand, if there is one."""
        token = self._peek()
        return _LEVELS[token.text] if token.kind == "op" else None

    def _expression(self, min_level: int) -> _Node:
        node = self._unary()
        while (level := self._level()) is not None and level >= min_level:
            rest: list[tuple[str, _Node]] = []
            while self._level() == level:
                operator = self._advance().text
                rest.append((operator, self._expression(level + 1)))
            node = _Chain(node, tuple(rest))
        return node

    def _unary(self) -> _Node:
        token = self._peek()
        if token.kind == "op" and token.text == "-":
            self._advance()
            with self._nested(token):
                return _Negate(self._unary())
        return self._primary()

    def _primary(self) -> _Node:
        token = self._advance()
        if token.kind == "number":
            return _Literal(_parse_number(token.text))
        if token.kind == "string":
            return _Literal(token.text)
        if token.kind == "field":
            self.field_names.add(token.text)
            return _FieldRef(token.text)
        if token.kind == "(":
            with self._nested(token):
                node = self._expression(0)
                self._expect(")", f"to close the '(' at position {token.position}")
            return node
        if token.kind == "name":
            return self._call(token)
        raise FormulaError(
            f"unexpected {token.describe()} at position {token.position}; expected a value"
        )

    def _call(self, token: _Token) -> _Node:
        if self._peek().kind != "(":
            raise FormulaError(
                f"unexpected name {token.text!r} at position {token.position}: "
                f"write a field as {{{token.text}}} and a function call with parentheses"
            )
        name = token.text.upper()
        function = _FUNCTIONS.get(name)
        if function is None:
            raise FormulaError(f"unknown function {token.text}() at position {token.position}")
        self._advance()
        args: list[_Node] = []
        with self._nested(token):
            if self._peek().kind != ")":
                args.append(self._expression(0))
                while self._peek().kind == ",":
                    self._advance()
                    args.append(self._expression(0))
            self._expect(")", f"after the arguments of {name}()")
        if len(args) < function.min_args or (
            function.max_args is not None and len(args) > function.max_args
        ):
            raise FormulaError(
                f"{name}() takes {function.arity()}, got {len(args)} (at position {token.position})"
            )
        if name == "AND":
            return _AllOf(tuple(args))
        if name == "OR":
            return _AnyOf(tuple(args))
        if name == "CREATED_TIME":
            return _RecordTime(None)
        if name == "LAST_MODIFIED_TIME":
            return _RecordTime(_field_arguments(name, args, token))
        if name in ("IS_AFTER", "IS_BEFORE"):
            bound = _time_bound(name == "IS_AFTER", args[0], args[1])
            if bound is not None:
                return bound
        call = _Call(name, tuple(args), function.impl)
        if name in _RECORD_FUNCTIONS or not all(isinstance(arg, _Literal) for arg in args):
            return call
        try:
            return _Literal(call.evaluate(_NO_RECORD))
        except _EvalError:
            return call  # it fails for every record, as ``ERROR``


# Functions whose value depends on the record or the moment: never folded into constants.
_RECORD_FUNCTIONS: Final = frozenset({"RECORD_ID", "NOW"})


class _NoRecord:
    """The context constant calls are folded with; they never read it."""

    record_id = ""
    created_time = ""
    last_modified_time = ""

    def fields_modified_time(self, field_names: tuple[str, ...]) -> str | None:
        raise AssertionError("a constant does not read the record")

    def value(self, field_name: str) -> Any:
        raise AssertionError("a constant does not read the record")


_NO_RECORD: Final = _NoRecord()


def _field_arguments(name: str, args: list[_Node], token: _Token) -> tuple[str, ...]:
    """The field names a function of fields is given; FormulaError for anything else."""
    names = []
    for arg in args:
        if not isinstance(arg, _FieldRef):
            raise FormulaError(
                f"{name}() takes field references such as {{Status}}, not other values "
                f"(at position {token.position})"
            )
        names.append(arg.name)
    return tuple(dict.fromkeys(names))


def _time_bound(is_after: bool, left: _Node, right: _Node) -> _TimeBound | None:
    """IS_AFTER/IS_BEFORE(left, right) as a :class:`_TimeBound` if one side is a record's
    time and the other a constant moment."""
    for time, other, later in ((left, right, is_after), (right, left, not is_after)):
        if isinstance(time, _RecordTime) and isinstance(other, _Literal):
            bound = _to_datetime(other.value)
            if bound is not None:
                text = _datetime_text(bound)
                exact = bound.microsecond % 1000 == 0 and _is_stamp(text)
                return _TimeBound(time.fields, bound, text if exact else None, later)
    return None


# --- Public interface -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledFormula:
    """A parsed formula, ready to be evaluated against any number of records."""

    source: str
    field_names: frozenset[str]
    _root: _Node = field(repr=False, compare=False)

    def evaluate(self, ctx: FormulaContext) -> Value | _ErrorValue:
        """Return the formula's value for the record ``ctx``, or ``ERROR`` if it fails."""
        try:
            return self._root.evaluate(ctx)
        except _EvalError:
            return ERROR

    def matches(self, ctx: FormulaContext) -> bool:
        """Whether Airtable's filterByFormula would keep the record ``ctx``."""
        try:
            return _truthy(self._root.evaluate(ctx))
        except _EvalError:
            return False

    def select(self, items: Iterable[T], ctx: FormulaContext, point: Callable[[T], Any]) -> list[T]:
        """The items Airtable's filterByFormula would keep, in order: ``point(item)`` makes
        ``ctx`` the record of each item in turn. The same as calling :meth:`matches` item after
        item, in one loop (filters run over whole tables)."""
        evaluate = self._root.evaluate
        kept = []
        for item in items:
            point(item)
            try:
                value = evaluate(ctx)
            except _EvalError:
                continue
            if value is True or (value is not False and _truthy(value)):
                kept.append(item)
        return kept


def compile_formula(text: str) -> CompiledFormula:
    """Parse a filterByFormula; raise ``FormulaError`` if it is not a formula we support."""
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, not {type(text).__name__}")
    parser = _Parser(text)
    root = parser.parse()
    return CompiledFormula(text, frozenset(parser.field_names), root)
