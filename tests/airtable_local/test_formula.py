"""Tests for the filterByFormula parser and evaluator of the embedded Airtable server."""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyairtable import formulas as F

from bot.airtable_local.formula import (
    ERROR,
    MAX_DEPTH,
    CompiledFormula,
    FormulaError,
    compile_formula,
)

UTC = dt.UTC


@dataclass
class Ctx:
    """A record to evaluate formulas against."""

    fields: dict[str, Any] = field(default_factory=dict)
    record_id: str = "recAAAAAAAAAAAAAA"
    created_time: str = "2024-01-02T03:04:05.000Z"
    modified: dict[str, str] = field(default_factory=dict)

    def value(self, field_name: str) -> Any:
        return self.fields.get(field_name)

    @property
    def last_modified_time(self) -> str:
        return max([self.created_time, *self.modified.values()])

    def fields_modified_time(self, field_names: tuple[str, ...]) -> str | None:
        stamps = [self.modified[name] for name in field_names if name in self.modified]
        return max(stamps) if stamps else None


RECORD = Ctx(
    {
        "Name": "Widget",
        "Empty": None,
        "EmptyText": "",
        "Count": 3,
        "Negative": -3,
        "Price": 2.5,
        "Zero": 0,
        "Done": True,
        "Undone": False,
        "Tags": ["a", "b"],
        "NoTags": [],
        "Pair": ("x", "y"),
        "Due": "2024-03-01",
        "When": "2024-03-01T12:00:00.000Z",
        "Numeric": "42",
        "Greeting": "Hello World",
        "Big": 10**25,
        "Huge": 10**400,
        "NaN": math.nan,
        "Inf": math.inf,
        "Moment": dt.datetime(2024, 3, 1, 12, 0),
        "Ancient": dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        "Day": dt.date(2024, 3, 1),
        "Attachments": [{"url": "u"}],
        "Object": {"id": "usr1"},
    }
)


def evaluate(formula: str, ctx: Ctx = RECORD) -> Any:
    return compile_formula(formula).evaluate(ctx)


def assert_same(actual: Any, expected: Any) -> None:
    """Equal and of the same type, so that ``True`` is not mistaken for ``1``."""
    assert actual == expected
    assert type(actual) is type(expected)


def cases(group: str, *pairs: tuple[str, Any]) -> list[Any]:
    return [
        pytest.param(formula, expected, id=f"{group}: {formula}") for formula, expected in pairs
    ]


VALUE_CASES = [
    *cases(
        "literal",
        ("1", 1),
        ("2.5", 2.5),
        ("-3", -3),
        (".5", 0.5),
        ("5.", 5),
        ("1e3", 1000),
        ("2.5E-1", 0.25),
        ("1234567890123456", 1234567890123456),
        ("1e999", math.inf),
        ("'x'", "x"),
        ('"x"', "x"),
        ("''", ""),
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"""'mixed "quotes"'""", 'mixed "quotes"'),
        (r"'a\\b'", "a\\b"),
        (r"'a\\'", "a\\"),
        (r"'line\nbreak\ttab\rreturn'", "line\nbreak\ttab\rreturn"),
        ("'raw\nnewline'", "raw\nnewline"),
        ("'ünïcødé 😀'", "ünïcødé 😀"),
        ("TRUE()", True),
        ("FALSE()", False),
        ("BLANK()", None),
        ("true()", True),
        (" \t\n 1 \r\n", 1),
    ),
    *cases(
        "field",
        ("{Name}", "Widget"),
        ("{Count}", 3),
        ("{Tags}", ["a", "b"]),
        ("{NoTags}", None),
        ("{Pair}", ["x", "y"]),
        ("{Missing}", None),
        ("{Moment}", dt.datetime(2024, 3, 1, 12, 0, tzinfo=UTC)),
        ("{Ancient}", None),
        ("{Day}", "2024-03-01"),
        ("{Object}", "{'id': 'usr1'}"),
    ),
    *cases("+", ("1+2", 3), ("{Count}+1", 4), ("{Empty}+1", 1), ("{Numeric}+1", 43)),
    *cases("+", ("{Done}+1", 2), ("0.1+0.2", 0.30000000000000004), ("{Huge}+1", math.inf)),
    *cases("-", ("5-7", -2), ("10-2-3", 5), ("{Price}-0.5", 2)),
    *cases("*", ("2*3", 6), ("'2'*'3'", 6), ("2*-3", -6), ("1e308*10", math.inf)),
    *cases("/", ("7/2", 3.5), ("6/3", 2), ("8/2/2", 2), ("1/3", 1 / 3)),
    *cases("unary -", ("-{Count}", -3), ("--2", 2), ("-(1+2)", -3), ("-2*3", -6)),
    *cases("precedence", ("1+2*3", 7), ("(1+2)*3", 9), ("2*3+4*5", 26), ("1+2&3", "33")),
    *cases("precedence", ("'x'&1='x1'", True), ("1<2=TRUE()", True), ("1+1=2", True)),
    *cases("&", ("'a'&'b'", "ab"), ("1&2", "12"), ("{Empty}&'x'", "x"), ("{Tags}&'!'", "a, b!")),
    *cases(
        "& formats",
        ("2.50&''", "2.5"),
        ("1e21&''", "1e+21"),
        ("-0&''", "0"),
        ("{Done}&{Undone}", "10"),
        ("{Big}&''", "1e+25"),
        ("{Huge}&''", "Infinity"),
        ("-{Huge}&''", "-Infinity"),
        ("{NaN}&''", "NaN"),
        ("{Inf}&''", "Infinity"),
        ("DATETIME_PARSE('2024-03-01')&''", "2024-03-01T00:00:00.000Z"),
        ("{Attachments}&''", "{'url': 'u'}"),
    ),
    *cases(
        "=",
        ("1=1", True),
        ("{Name}='Widget'", True),
        ("{Name}='widget'", False),
        ("{Count}=3", True),
        ("{Count}=3.0", True),
        ("{Count}='3'", True),
        ("{Count}='3.0'", False),
        ("{Price}='2.5'", True),
        ("{Numeric}=42", True),
        ("{Tags}='a, b'", True),
        ("{Tags}='a'", False),
        ("{Done}=TRUE()", True),
        ("{Done}=1", True),
        ("{Undone}=FALSE()", True),
        ("TRUE()=1", True),
        ("1=1=TRUE()", True),
    ),
    *cases(
        "= blank",
        ("{Empty}=''", True),
        ("''={Empty}", True),
        ("{Empty}=BLANK()", True),
        ("BLANK()=''", True),
        ("{Empty}=0", True),
        ("{Empty}=FALSE()", True),
        ("{Empty}='x'", False),
        ("{Empty}=1", False),
        ("{Zero}=BLANK()", True),
        ("{NoTags}=''", True),
        ("{EmptyText}=BLANK()", True),
        ("{EmptyText}=0", False),
        ("{Empty}=DATETIME_PARSE('2024-03-01')", False),
    ),
    *cases(
        "= dates",
        ("{Due}=DATETIME_PARSE('2024-03-01')", True),
        ("DATETIME_PARSE('2024-03-01T13:00:00+01:00')={When}", True),
        ("{Moment}={When}", True),
        ("DATETIME_PARSE('2024-03-01')='nonsense'", False),
        ("DATETIME_PARSE('2024-03-01')=1", False),
        ("{Due}='2024-03-01'", True),
    ),
    *cases(
        "!=",
        ("1!=1", False),
        ("1!=2", True),
        ("{Name}!='Widget'", False),
        ("{Empty}!=''", False),
        ("{Name}!=''", True),
    ),
    *cases(
        "<",
        ("1<2", True),
        ("2<1", False),
        ("'abc'<'abd'", True),
        ("'10'<'9'", True),
        ("{Numeric}<100", True),
        ("'abc'<1", False),
        ("{Empty}<1", True),
        ("{Empty}<'a'", True),
        ("{NaN}<1", False),
        ("{Due}<DATETIME_PARSE('2024-03-02')", True),
        ("{Due}<'2024-04-01'", True),
        ("DATETIME_PARSE('2024-03-01')<'nonsense'", False),
        ("{Empty}<DATETIME_PARSE('2024-03-01')", False),
    ),
    *cases(
        "<=", ("1<=1", True), ("2<=1", False), ("BLANK()<=BLANK()", True), ("{Price}<=2.5", True)
    ),
    *cases(
        ">", ("2>1", True), ("1>2", False), ("{When}>DATETIME_PARSE('2024-03-01T11:59Z')", True)
    ),
    *cases(">=", ("1>=2", False), ("2>=2", True), ("'abc'>=1", False), ("{Name}>='W'", True)),
    *cases(
        "AND",
        ("AND(1, 'x', TRUE())", True),
        ("AND(1, 0)", False),
        ("AND({Empty})", False),
        ("and(1)", True),
        ("AND (1)", True),
    ),
    *cases("OR", ("OR(0, '', BLANK())", False), ("OR(0, 'x')", True), ("Or({Tags})", True)),
    *cases("NOT", ("NOT(0)", True), ("NOT('x')", False), ("NOT({Empty})", True)),
    *cases(
        "IF",
        ("IF(1, 'a', 'b')", "a"),
        ("IF(0, 'a', 'b')", "b"),
        ("IF(0, 'a')", None),
        ("IF({Done}, {Count}, 0)", 3),
        ("IF(1, 'a', 1/0)", "a"),
    ),
    *cases(
        "RECORD_ID", ("RECORD_ID()", "recAAAAAAAAAAAAAA"), ("record_id()='recAAAAAAAAAAAAAA'", True)
    ),
    *cases("LOWER", ("LOWER('ÀbC')", "àbc"), ("LOWER({Count})", "3"), ("LOWER({Empty})", "")),
    *cases("UPPER", ("UPPER('straße')", "STRASSE"), ("UPPER({Tags})", "A, B")),
    *cases("TRIM", ("TRIM('  pad  ')", "pad"), ("TRIM('\t x y \n')", "x y")),
    *cases("LEN", ("LEN('abc')", 3), ("LEN({Empty})", 0), ("LEN({Tags})", 4), ("LEN(123)", 3)),
    *cases(
        "FIND",
        ("FIND('o', 'Hello World')", 5),
        ("FIND('o', 'Hello World', 6)", 8),
        ("FIND('O', 'Hello World')", 0),
        ("FIND('z', 'abc')", 0),
        ("FIND('a', 'abc', 0)", 1),
        ("FIND('a', 'abc', -5)", 1),
        ("FIND('c', 'abc', 99)", 0),
        ("FIND('c', 'abc', 1e999)", 0),
        ("FIND('c', 'abc', BLANK())", 3),
        ("FIND('', 'abc')", 1),
        ("FIND('b', {Tags})", 4),
        ("FIND(3, {Count})", 1),
    ),
    *cases(
        "SEARCH",
        ("SEARCH('World', 'Hello World')", 7),
        ("SEARCH('world', 'Hello World')", None),
        ("SEARCH('z', 'abc')", None),
        ("SEARCH('o', 'Hello World', 6)", 8),
    ),
    *cases(
        "ARRAYJOIN",
        ("ARRAYJOIN({Tags})", "a, b"),
        ("ARRAYJOIN({Tags}, '|')", "a|b"),
        ("ARRAYJOIN({Tags}, BLANK())", "ab"),
        ("ARRAYJOIN({Name})", "Widget"),
        ("ARRAYJOIN({Empty})", ""),
    ),
    *cases("CONCATENATE", ("CONCATENATE('a', 1, TRUE(), BLANK(), 2.5)", "a112.5")),
    *cases(
        "DATETIME_PARSE",
        ("DATETIME_PARSE('2024-03-01')", dt.datetime(2024, 3, 1, tzinfo=UTC)),
        (
            "DATETIME_PARSE('2023-12-01T12:34:56.000Z')",
            dt.datetime(2023, 12, 1, 12, 34, 56, tzinfo=UTC),
        ),
        (
            "DATETIME_PARSE('2023-12-01T12:34:56.000')",
            dt.datetime(2023, 12, 1, 12, 34, 56, tzinfo=UTC),
        ),
        ("DATETIME_PARSE(' 2024-03-01T12:00+02:00 ')", dt.datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("DATETIME_PARSE(DATETIME_PARSE('2024-03-01'))", dt.datetime(2024, 3, 1, tzinfo=UTC)),
        ("DATETIME_PARSE({When})", dt.datetime(2024, 3, 1, 12, tzinfo=UTC)),
    ),
    *cases(
        "IS_BEFORE",
        ("IS_BEFORE({Due}, '2024-03-02')", True),
        ("IS_BEFORE('2024-03-02', {Due})", False),
        ("IS_BEFORE({Due}, NOW())", True),
    ),
    *cases(
        "IS_AFTER",
        ("IS_AFTER({When}, {Due})", True),
        ("IS_AFTER({Due}, {When})", False),
        ("IS_AFTER(NOW(), '2000-01-01')", True),
    ),
    *cases("CREATED_TIME", ("CREATED_TIME()", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))),
    *cases("CREATED_TIME", ("IS_BEFORE(CREATED_TIME(), {Due})", True)),
]


@pytest.mark.parametrize(("formula", "expected"), VALUE_CASES)
def test_evaluate(formula: str, expected: Any) -> None:
    assert_same(evaluate(formula), expected)


def test_now_is_the_current_time() -> None:
    before = dt.datetime.now(UTC)
    now = evaluate("NOW()")
    assert isinstance(now, dt.datetime)
    assert before <= now <= dt.datetime.now(UTC)


ERROR_VALUE_CASES = [
    "1/0",
    "{Count}/{Zero}",
    "'abc'+1",
    "1-'abc'",
    "-'abc'",
    "{Name}*2",
    "{NaN}+1",
    "1e999-1e999",
    "0*1e999",
    "{Due}+1",
    "DATETIME_PARSE('nonsense')",
    "DATETIME_PARSE(BLANK())",
    "DATETIME_PARSE(3)",
    "DATETIME_PARSE('0001-01-01T00:00:00+01:00')",
    "IS_BEFORE('x', NOW())",
    "IS_AFTER(NOW(), {Empty})",
    "FIND('a', 'abc', 'x')",
    "NOT(1/0)",
    "AND(1, 1/0)",
    "OR(0, 1/0)",
    "IF(1/0, 1, 1)",
    "LOWER(1/0)",
]


@pytest.mark.parametrize("formula", ERROR_VALUE_CASES)
def test_runtime_failure_is_airtable_error_and_never_matches(formula: str) -> None:
    compiled = compile_formula(formula)
    assert compiled.evaluate(RECORD) is ERROR
    assert compiled.matches(RECORD) is False


def test_error_value() -> None:
    assert repr(ERROR) == "ERROR"
    assert not ERROR


def test_created_time_that_does_not_parse_is_an_error() -> None:
    compiled = compile_formula("CREATED_TIME()")
    assert compiled.evaluate(Ctx(created_time="yesterday")) is ERROR


MATCH_CASES = [
    *cases("text", ("'x'", True), ("''", False), ("'0'", True), ("{Name}", True)),
    *cases("number", ("1", True), ("-1", True), ("0", False), ("{Price}", True), ("{Zero}", False)),
    *cases("number", ("{NaN}", False), ("{Inf}", True)),
    *cases("boolean", ("TRUE()", True), ("FALSE()", False), ("{Done}", True), ("{Undone}", False)),
    *cases("blank", ("BLANK()", False), ("{Empty}", False), ("{Missing}", False)),
    *cases("list", ("{Tags}", True), ("{NoTags}", False)),
    *cases("date", ("DATETIME_PARSE('2024-01-01')", True), ("{Moment}", True)),
    *cases("function", ("SEARCH('z', 'abc')", False), ("FIND('b', 'abc')", True)),
]


@pytest.mark.parametrize(("formula", "expected"), MATCH_CASES)
def test_matches_uses_airtable_truthiness(formula: str, expected: bool) -> None:
    assert compile_formula(formula).matches(RECORD) is expected


def test_list_is_truthy_when_its_joined_text_is_not_empty() -> None:
    compiled = compile_formula("{Tags}")
    assert compiled.matches(Ctx({"Tags": [""]})) is False
    assert compiled.matches(Ctx({"Tags": ["a"]})) is True


@pytest.mark.parametrize(
    ("formula", "names"),
    [
        pytest.param("1", set(), id="none"),
        pytest.param("AND({A}, OR({B}, {A}))", {"A", "B"}, id="deduplicated"),
        pytest.param(r"{a\}b}", {"a}b"}, id="escaped brace"),
        pytest.param(r"{x\y}", {"x\\y"}, id="backslash is literal"),
        pytest.param(r"{x\\}y}", {"x\\}y"}, id="backslash before escaped brace"),
        pytest.param(
            '{It\'s "quoted" {here}', {'It\'s "quoted" {here'}, id="quotes and open brace"
        ),
        pytest.param("{ spaced }", {" spaced "}, id="spaces kept"),
        pytest.param("'{Not a field}'", set(), id="inside a string"),
    ],
)
def test_field_names(formula: str, names: set[str]) -> None:
    compiled = compile_formula(formula)
    assert compiled.field_names == frozenset(names)
    assert isinstance(compiled.field_names, frozenset)


def test_compiled_formula_keeps_its_source() -> None:
    compiled = compile_formula("{A}=1")
    assert isinstance(compiled, CompiledFormula)
    assert compiled.source == "{A}=1"
    assert "{A}=1" in repr(compiled)


SYNTAX_ERROR_CASES = [
    ("", "empty"),
    ("  \n ", "empty"),
    ("Name", "write a field as {Name}"),
    ("TRUE", "write a field as {TRUE}"),
    ("AND", "function call with parentheses"),
    ("FOO(1)", "unknown function FOO()"),
    ("REGEX_MATCH({A}, 'x')", "unknown function REGEX_MATCH()"),
    ("AND()", "AND() takes at least 1 argument, got 0"),
    ("CONCATENATE()", "CONCATENATE() takes at least 1 argument, got 0"),
    ("NOT(1, 2)", "NOT() takes exactly 1 argument, got 2"),
    ("LEN()", "LEN() takes exactly 1 argument, got 0"),
    ("IS_BEFORE(NOW())", "IS_BEFORE() takes exactly 2 arguments, got 1"),
    ("IF(1)", "IF() takes 2 to 3 arguments, got 1"),
    ("FIND('a','b','c','d')", "FIND() takes 2 to 3 arguments, got 4"),
    ("DATETIME_PARSE('2024', 'YYYY')", "DATETIME_PARSE() takes exactly 1 argument, got 2"),
    ("RECORD_ID(1)", "RECORD_ID() takes no arguments, got 1"),
    ("TRUE(1)", "TRUE() takes no arguments"),
    ("'abc", "unterminated string starting at position 0"),
    ('1="abc', "unterminated string starting at position 2"),
    ("'abc\\", "unterminated string"),
    ("'abc\\'", "unterminated string"),
    ("'a\\qb'", "unknown escape '\\q' at position 2"),
    ("{Name", "unterminated field reference"),
    ("{Name\\}", "unterminated field reference"),
    ("{}", "empty field reference"),
    ("1 2", "unexpected '2' at position 2; expected an operator"),
    ("'a' 'b'", "unexpected string 'b'"),
    ("{A} {B}", "unexpected field {B}"),
    ("1e", "unexpected 'e'"),
    ("1 +", "unexpected end of formula at position 3; expected a value"),
    ("(1", "expected ')' to close the '(' at position 0"),
    ("1)", "unexpected ')'"),
    ("()", "unexpected ')'"),
    (",", "unexpected ','"),
    ("AND(1,)", "expected a value"),
    ("AND(1 2)", "expected ')' after the arguments of AND()"),
    ("AND(1", "expected ')' after the arguments of AND()"),
    ("1 == 1", "unexpected '='"),
    ("1 <> 2", "unexpected '>'"),
    ("!1", "unexpected character '!'"),
    ("1 ^ 2", "unexpected character '^'"),
    ("1 % 2", "unexpected character '%'"),
    ("1 && 1", "unexpected '&'"),
    ("#", "unexpected character '#'"),
    ("[1]", "unexpected character '['"),
    ("{A}=1 OR {B}=2", "unexpected 'OR'"),
    ("'x' OR TRUE()", "unexpected 'OR'"),
    ("١", "unexpected character"),
]


@pytest.mark.parametrize(
    ("formula", "message"), [pytest.param(f, m, id=repr(f)) for f, m in SYNTAX_ERROR_CASES]
)
def test_syntax_errors(formula: str, message: str) -> None:
    with pytest.raises(FormulaError) as raised:
        compile_formula(formula)
    assert message in str(raised.value)


def test_formula_error_is_a_value_error() -> None:
    assert issubclass(FormulaError, ValueError)


def test_non_text_formula_is_rejected() -> None:
    with pytest.raises(FormulaError, match="must be text"):
        compile_formula(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda n: "(" * n + "1" + ")" * n, id="parentheses"),
        pytest.param(lambda n: "NOT(" * n + "1" + ")" * n, id="calls"),
        pytest.param(lambda n: "-" * n + "1", id="unary minus"),
        pytest.param(lambda n: "1*(" * n + "1" + ")" * n, id="operators"),
    ],
)
def test_nesting_is_limited(make: Any) -> None:
    assert compile_formula(make(MAX_DEPTH)).evaluate(RECORD) in (1, True)
    for depth in (MAX_DEPTH + 1, 100_000):
        with pytest.raises(FormulaError, match=f"more than {MAX_DEPTH} levels"):
            compile_formula(make(depth))


@pytest.mark.parametrize("operator", ["+", "&", "=", "*"])
def test_long_operator_runs_do_not_recurse(operator: str) -> None:
    compiled = compile_formula(operator.join(["1"] * 10_000))
    assert compiled.evaluate(RECORD) is not ERROR


def test_long_argument_lists_are_fine() -> None:
    ids = [f"rec{i:014d}" for i in range(5_000)]
    compiled = compile_formula(str(F.OR(F.EQ(F.RECORD_ID(), i) for i in ids)))
    assert compiled.matches(Ctx(record_id=ids[-1]))
    assert not compiled.matches(Ctx(record_id="recNOPE"))


# --- What pyairtable emits ------------------------------------------------------------------


WIDGET = Ctx(
    {
        "Name": "Widget",
        "Count": 3,
        "Negative": -3,
        "Price": 2.5,
        "Done": True,
        "Due": "2024-03-01",
        "When": "2024-03-01T12:00:00.000Z",
        "Guest's Name": "Jane's",
        "Odd}Field": "odd",
    },
    record_id="recWIDGET00000000",
)
GADGET = Ctx({"Name": "Gadget", "Count": 4, "Price": 1.0}, record_id="recGADGET00000000")


@pytest.mark.parametrize(
    ("formula", "widget", "gadget"),
    [
        pytest.param(F.match({"Name": "Widget"}), True, False, id="match"),
        pytest.param(F.match({"Name": "Widget", "Count": 3}), True, False, id="match AND"),
        pytest.param(F.match({"Name": "Widget", "Count": 4}), False, False, id="match AND none"),
        pytest.param(
            F.match({"Name": "Widget", "Count": 4}, match_any=True), True, True, id="match_any OR"
        ),
        pytest.param(F.match({"Count": (">=", 4)}), False, True, id="match >="),
        pytest.param(F.match({"Count": ("<", 4)}), True, False, id="match <"),
        pytest.param(F.EQ(F.Field("Negative"), -3), True, False, id="negative number"),
        pytest.param(F.GT(F.Field("Price"), 2.25), True, False, id="GT float"),
        pytest.param(F.LTE(F.Field("Price"), 1), False, True, id="LTE int"),
        pytest.param(F.NE(F.Field("Name"), "Widget"), False, True, id="NE"),
        pytest.param(F.EQ(F.Field("Price"), Decimal("2.50")), True, False, id="Decimal"),
        pytest.param(F.EQ(F.Field("Price"), Fraction(5, 2)), True, False, id="Fraction"),
        pytest.param(F.EQ(F.Field("Done"), True), True, False, id="TRUE()"),
        pytest.param(F.EQ(F.Field("Done"), False), False, True, id="FALSE()"),
        pytest.param(F.EQ(F.Field("Due"), dt.date(2024, 3, 1)), True, False, id="date"),
        pytest.param(
            F.EQ(F.Field("When"), dt.datetime(2024, 3, 1, 12, tzinfo=UTC)), True, False, id="aware"
        ),
        pytest.param(F.EQ(F.Field("When"), dt.datetime(2024, 3, 1, 12)), True, False, id="naive"),
        pytest.param(F.LT(F.Field("Due"), dt.date(2024, 3, 2)), True, False, id="date LT"),
        pytest.param(F.EQ(F.EQ(F.Field("Count"), 3), True), True, False, id="nested comparison"),
        pytest.param(F.NOT(F.EQ(F.Field("Name"), "Widget")), False, True, id="NOT"),
        pytest.param(~F.Field("Name").eq("Gadget"), True, False, id="invert"),
        pytest.param(F.Field("Count").gt(2) & F.Field("Count").lt(4), True, False, id="and op"),
        pytest.param(F.Field("Count").eq(3) | F.Field("Count").eq(4), True, True, id="or op"),
        pytest.param(F.AND(F.OR(Name="Widget"), F.NOT(Count=4)), True, False, id="keywords"),
        pytest.param(F.match({"Guest's Name": "Jane's"}), True, False, id="quotes"),
        pytest.param(F.match({"Odd}Field": "odd"}), True, False, id="brace in field name"),
        pytest.param(F.LOWER(F.Field("Name")).eq("widget"), True, False, id="LOWER"),
        pytest.param(F.FIND("dg", F.Field("Name")).gt(0), True, True, id="FIND"),
        pytest.param(F.SEARCH("Wid", F.Field("Name")), True, False, id="SEARCH"),
        pytest.param(F.LEN(F.TRIM(F.Field("Name"))).eq(6), True, True, id="LEN TRIM"),
        pytest.param(F.CONCATENATE(F.Field("Name"), "!").eq("Widget!"), True, False, id="CONCAT"),
        pytest.param(F.IS_BEFORE(F.Field("Due"), dt.date(2024, 4, 1)), True, False, id="IS_BEFORE"),
        pytest.param(F.IS_BEFORE(F.Field("Due"), F.NOW()), True, False, id="NOW"),
        pytest.param(
            F.IS_BEFORE(F.CREATED_TIME(), dt.date(2025, 1, 1)), True, True, id="CREATED_TIME"
        ),
        pytest.param(F.EQ(F.Field("Name"), F.BLANK()), False, False, id="BLANK"),
        pytest.param(F.EQ(F.Field("Due"), F.BLANK()), False, True, id="BLANK matches empty"),
        pytest.param(F.EQ(F.RECORD_ID(), "recGADGET00000000"), False, True, id="RECORD_ID"),
    ],
)
def test_pyairtable_formulas(formula: F.Formula, widget: bool, gadget: bool) -> None:
    compiled = compile_formula(F.to_formula_str(formula))
    assert compiled.matches(WIDGET) is widget
    assert compiled.matches(GADGET) is gadget


def test_orm_fetch_by_record_ids() -> None:
    # What pyairtable.orm.Model.from_ids sends for the records it does not have yet.
    wanted = ["recB", "recA", "recC"]
    compiled = compile_formula(str(F.OR(F.EQ(F.RECORD_ID(), rid) for rid in sorted(wanted))))
    assert compiled.field_names == frozenset()
    assert [
        rid for rid in ["recA", "recB", "recC", "recD"] if compiled.matches(Ctx(record_id=rid))
    ] == [
        "recA",
        "recB",
        "recC",
    ]


def test_deprecated_escape_quotes_output_is_understood() -> None:
    with pytest.warns(DeprecationWarning):
        escaped = F.escape_quotes("Player's Name")
    compiled = compile_formula(f"{{Name}}='{escaped}'")
    assert compiled.matches(Ctx({"Name": "Player's Name"}))


def test_injected_formula_in_a_value_matches_only_that_exact_value() -> None:
    hostile = "x' OR TRUE() OR '"
    compiled = compile_formula(F.to_formula_str(F.EQ(F.Field("Name"), hostile)))
    assert compiled.field_names == frozenset({"Name"})
    assert compiled.matches(Ctx({"Name": hostile}))
    for other in ["x", "", None, "x' OR TRUE() OR", hostile.upper(), "' OR TRUE() OR '"]:
        assert not compiled.matches(Ctx({"Name": other})), other


@pytest.mark.parametrize(
    "value",
    ["", "'", '"', "\\", "\\'", "'\\", "\\\\'", "a\\", "{Name}", "}", "\n", "\\n", "😀", "é"],
)
def test_quoted_round_trips(value: str) -> None:
    formula = F.to_formula_str(F.EQ(F.Field("Name"), value))
    assert evaluate(formula, Ctx({"Name": value})) is True
    assert evaluate(formula, Ctx({"Name": value + "x"})) is False
    assert evaluate(F.quoted(value)) == value


# --- Properties -----------------------------------------------------------------------------

TRICKY = st.sampled_from(["'", '"', "\\", "{", "}", "\\'", "\\}", " OR ", "()", ","])
VALUES = st.one_of(st.text(), st.lists(st.one_of(TRICKY, st.characters())).map("".join))
FIELD_NAMES = (
    st.lists(st.one_of(TRICKY, st.characters()), min_size=1)
    .map("".join)
    .filter(lambda name: not name.endswith("\\"))  # unreferenceable, as in Airtable
)


@given(value=VALUES, other=VALUES)
def test_property_equality_formula_matches_exactly_that_value(value: str, other: str) -> None:
    for formula in (F.to_formula_str(F.EQ(F.Field("Name"), value)), str(F.match({"Name": value}))):
        compiled = compile_formula(formula)
        assert compiled.field_names == frozenset({"Name"})
        assert compiled.matches(Ctx({"Name": value}))
        assert not compiled.matches(Ctx({"Name": value + "x"}))
        assert compiled.matches(Ctx({"Name": other})) is (other == value)


@given(name=FIELD_NAMES, value=VALUES, other=VALUES)
def test_property_field_names_round_trip(name: str, value: str, other: str) -> None:
    compiled = compile_formula(str(F.match({name: value, "Other": other})))
    assert compiled.field_names == frozenset({name, "Other"})
    assert compiled.matches(Ctx({name: value, "Other": other}))
    if name != "Other":
        assert not compiled.matches(Ctx({name: value + "x", "Other": other}))


@given(st.lists(st.text(min_size=1), min_size=1, max_size=20), st.text())
def test_property_record_id_lookup(record_ids: list[str], probe: str) -> None:
    compiled = compile_formula(str(F.OR(F.EQ(F.RECORD_ID(), rid) for rid in record_ids)))
    assert all(compiled.matches(Ctx(record_id=rid)) for rid in record_ids)
    assert compiled.matches(Ctx(record_id=probe)) is (probe in record_ids)


PROBE = Ctx(
    {
        "A": "text",
        "B": 2,
        "C": ["x", "y"],
        "D": True,
        "E": "2024-03-01",
        "F": 0.5,
        "G": None,
        "H": math.nan,
    },
    modified={"A": "2024-02-01T00:00:00.000Z"},
)


def check_total(text: str) -> None:
    """Compiling either works or raises FormulaError; evaluating never raises."""
    try:
        compiled = compile_formula(text)
    except FormulaError:
        return
    compiled.evaluate(PROBE)
    assert compiled.matches(PROBE) in (True, False)


@given(st.text())
def test_property_arbitrary_text_compiles_or_raises_formula_error(text: str) -> None:
    check_total(text)


FORMULA_ALPHABET = st.sampled_from(
    [
        *"{}()'\",\\=!<>&+-*/ .0123456789eE_x",
        *["AND(", "OR(", "NOT(", "IF(", "LEN(", "FIND(", "DATETIME_PARSE(", "TRUE()", "BLANK()"],
        *["{A}", "{B}", "{C}", "{G}", "{H}", "1e999"],
    ]
)


@given(st.lists(FORMULA_ALPHABET, max_size=40).map("".join))
def test_property_formula_like_text_compiles_or_raises_formula_error(text: str) -> None:
    check_total(text)


LEAVES = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(F.to_formula_str),
    st.text(max_size=10).map(F.quoted),
    st.sampled_from([f"{{{name}}}" for name in "ABCDEFGHZ"]),
    st.sampled_from(["TRUE()", "FALSE()", "BLANK()", "NOW()", "RECORD_ID()", "CREATED_TIME()"]),
    st.sampled_from(["LAST_MODIFIED_TIME()", "LAST_MODIFIED_TIME({A})", "LAST_MODIFIED_TIME({G})"]),
    st.sampled_from(["'2024-01-01'", "'2024-03-01T12:00:00.000Z'", "''", "'0'", "'x'"]),
)
CALLS: dict[str, int] = {
    "AND": 2,
    "OR": 2,
    "NOT": 1,
    "IF": 3,
    "LOWER": 1,
    "UPPER": 1,
    "TRIM": 1,
    "LEN": 1,
    "FIND": 3,
    "SEARCH": 2,
    "ARRAYJOIN": 2,
    "CONCATENATE": 3,
    "DATETIME_PARSE": 1,
    "IS_BEFORE": 2,
    "IS_AFTER": 2,
}
OPERATORS = ["=", "!=", "<", "<=", ">", ">=", "&", "+", "-", "*", "/"]


def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(OPERATORS), children).map(
        lambda parts: f"({parts[0]}){parts[1]}({parts[2]})"
    )
    negated = children.map(lambda child: f"-({child})")
    call = st.sampled_from(sorted(CALLS)).flatmap(
        lambda name: st.lists(children, min_size=CALLS[name], max_size=CALLS[name]).map(
            lambda args: f"{name}({', '.join(args)})"
        )
    )
    return st.one_of(binary, negated, call)


@given(st.recursive(LEAVES, extend, max_leaves=25))
def test_property_well_formed_formulas_compile_and_evaluate(text: str) -> None:
    compiled = compile_formula(text)
    compiled.evaluate(PROBE)
    assert compiled.matches(PROBE) in (True, False)


# --- LAST_MODIFIED_TIME and record times -----------------------------------------------------

EDITED = Ctx(
    {"Name": "Widget", "Status": "Done"},
    created_time="2026-12-01T10:00:00.000Z",
    modified={
        "Name": "2026-12-01T10:00:00.000Z",
        "Status": "2026-12-02T04:30:00.250Z",
        "Notes": "2026-12-02T05:00:00.000Z",  # cleared since: the time stays
    },
)
NEVER_EDITED = Ctx({"Name": "Fresh"}, created_time="2026-12-02T04:00:00.000Z")


@pytest.mark.parametrize(
    ("formula", "ctx", "expected"),
    [
        ("LAST_MODIFIED_TIME()", EDITED, dt.datetime(2026, 12, 2, 5, tzinfo=UTC)),
        ("LAST_MODIFIED_TIME()", NEVER_EDITED, dt.datetime(2026, 12, 2, 4, tzinfo=UTC)),
        ("LAST_MODIFIED_TIME() & ''", EDITED, "2026-12-02T05:00:00.000Z"),
        ("LAST_MODIFIED_TIME({Status}) & ''", EDITED, "2026-12-02T04:30:00.250Z"),
        ("LAST_MODIFIED_TIME({Name}, {Status}) & ''", EDITED, "2026-12-02T04:30:00.250Z"),
        ("LAST_MODIFIED_TIME({Name}, {Never}) & ''", EDITED, "2026-12-01T10:00:00.000Z"),
        ("LAST_MODIFIED_TIME({Never})", EDITED, None),
        ("LAST_MODIFIED_TIME({Never}) = BLANK()", EDITED, True),
        ("last_modified_time({Name}) = CREATED_TIME()", EDITED, True),
        ("LAST_MODIFIED_TIME() = CREATED_TIME()", NEVER_EDITED, True),
        ("IS_AFTER(LAST_MODIFIED_TIME(), CREATED_TIME())", EDITED, True),
        ("IS_AFTER(LAST_MODIFIED_TIME({Never}), '2000-01-01')", EDITED, ERROR),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_last_modified_time(formula: str, ctx: Ctx, expected: Any) -> None:
    assert_same(compile_formula(formula).evaluate(ctx), expected)


CHANGED_SINCE = (
    "OR(IS_AFTER(LAST_MODIFIED_TIME(), DATETIME_PARSE('{0}')),"
    " IS_AFTER(CREATED_TIME(), DATETIME_PARSE('{0}')))"
)


@pytest.mark.parametrize(
    ("since", "edited", "never_edited"),
    [
        ("2026-12-02T03:59:59.999Z", True, True),
        ("2026-12-02T04:00:00.000Z", True, False),  # after, not at the same time
        ("2026-12-02T04:59:59.999Z", True, False),
        ("2026-12-02T05:00:00.000Z", False, False),
        ("2026-12-02T04:59:59.999500Z", True, False),  # finer than a millisecond
        ("2026-12-02T05:59:59.999+01:00", True, False),  # another offset
    ],
)
def test_changed_since_filter(since: str, edited: bool, never_edited: bool) -> None:
    compiled = compile_formula(CHANGED_SINCE.format(since))
    assert compiled.matches(EDITED) is edited
    assert compiled.matches(NEVER_EDITED) is never_edited


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("LAST_MODIFIED_TIME('Status')", "LAST_MODIFIED_TIME() takes field references"),
        ("LAST_MODIFIED_TIME({Name}, 1)", "LAST_MODIFIED_TIME() takes field references"),
        ("LAST_MODIFIED_TIME(CREATED_TIME())", "LAST_MODIFIED_TIME() takes field references"),
        ("LAST_MODIFIED_TIME(({Name}))", ""),  # parentheses around a field are the field
        ("LAST_MODIFIED_TIME({Name}&'')", "LAST_MODIFIED_TIME() takes field references"),
        ("CREATED_TIME({Name})", "CREATED_TIME() takes no arguments, got 1"),
    ],
)
def test_last_modified_time_takes_only_fields(formula: str, message: str) -> None:
    if not message:
        assert compile_formula(formula).field_names == {"Name"}
        return
    with pytest.raises(FormulaError, match=re.escape(message)):
        compile_formula(formula)


def test_last_modified_time_arguments_are_field_names() -> None:
    assert compile_formula("LAST_MODIFIED_TIME({A}, {B}, {A})").field_names == {"A", "B"}


STAMPS = st.datetimes(
    min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31), timezones=st.just(UTC)
)


@given(stamp=STAMPS, bound=STAMPS, offset=st.integers(-14 * 60, 14 * 60))
def test_property_record_time_against_a_constant_is_the_general_comparison(
    stamp: dt.datetime, bound: dt.datetime, offset: int
) -> None:
    """The compiled short cut for IS_AFTER/IS_BEFORE(record time, constant) agrees with
    comparing the same two moments as constants, for bounds in any offset and precision."""
    stamp_text = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
    shifted = bound.astimezone(dt.timezone(dt.timedelta(minutes=offset)))
    bound_text = shifted.isoformat()
    ctx = Ctx(created_time=stamp_text, modified={"A": stamp_text})
    constant = f"DATETIME_PARSE('{bound_text}')"
    for function in ("IS_AFTER", "IS_BEFORE"):
        for record in ("CREATED_TIME()", "LAST_MODIFIED_TIME({A})"):
            for left, right in ((record, constant), (constant, record)):
                fast = f"{function}({left}, {right})"
                general = fast.replace(record, f"DATETIME_PARSE('{stamp_text}')")
                expected = compile_formula(general).evaluate(ctx)
                assert compile_formula(fast).evaluate(ctx) == expected, fast


@pytest.mark.parametrize(
    "created_time",
    [
        "yesterday",
        "2026-12-02T04:00:00+00:00",
        "2026-12-02 04:00:00.000Z",
        "2026-13-02T04:00:00.000",
    ],
)
def test_record_times_not_in_the_store_shape_are_parsed(created_time: str) -> None:
    ctx = Ctx(created_time=created_time)
    fast = compile_formula("IS_AFTER(CREATED_TIME(), '2026-12-01T00:00:00.000Z')").evaluate(ctx)
    general = compile_formula(
        f"IS_AFTER(DATETIME_PARSE('{created_time}'), '2026-12-01T00:00:00.000Z')"
    ).evaluate(ctx)
    assert fast == general


def test_constant_calls_are_folded_but_their_failures_stay_per_record() -> None:
    folded = compile_formula("DATETIME_PARSE('2026-12-02T04:00:00.000Z')")
    assert folded.evaluate(Ctx()) == dt.datetime(2026, 12, 2, 4, tzinfo=UTC)
    failing = compile_formula("IF({Name}, DATETIME_PARSE('nonsense'), 1)")
    assert failing.evaluate(Ctx({"Name": ""})) == 1
    assert failing.evaluate(Ctx({"Name": "x"})) is ERROR
    now = compile_formula("NOW()")
    first = now.evaluate(Ctx())
    assert isinstance(first, dt.datetime)
    time.sleep(0.002)
    assert now.evaluate(Ctx()) != first  # NOW() is never folded into a constant
