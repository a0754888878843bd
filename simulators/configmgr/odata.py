"""OData v4 query options as the AdminService applies them: $filter, $select, $top, $skip,
$orderby, $count, and server-driven paging with @odata.nextLink.

Strict where the client is concerned: an unknown query option, an unknown property in $filter,
$select or $orderby, or a malformed expression is a 400 with an OData error body. Lenient where
the real server is: string comparisons ignore case (the WMI route turns $filter into WQL, whose
string comparisons are case-insensitive) and custom (non-$) query parameters are ignored.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode


class ODataError(Exception):
    """An OData error answer: ``{"error": {"code": ..., "message": ...}}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


def bad_request(message: str) -> ODataError:
    return ODataError(400, "BadRequest", message)


def not_found(message: str) -> ODataError:
    return ODataError(404, "NotFound", message)


KNOWN_OPTIONS = {"$filter", "$select", "$top", "$skip", "$orderby", "$count"}
# Accepted by OData but not implemented for the routes simulated: refused so a client never
# silently gets unexpanded or unsearched data.
UNSUPPORTED_OPTIONS = {"$expand", "$search", "$apply", "$format", "$skiptoken", "$compute", "$index"}

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<paren>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_./]*)
    )""", re.VERBOSE)
COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
FUNCTIONS = {"startswith", "endswith", "contains"}


def _tokens(text: str) -> list[tuple[str, object]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise bad_request(f"The query specified in the URI is not valid. Syntax error at position {pos} in '{text}'.")
        pos = m.end()
        if m.group("string") is not None:
            out.append(("lit", m.group("string")[1:-1].replace("''", "'")))
        elif m.group("number") is not None:
            n = m.group("number")
            out.append(("lit", float(n) if "." in n else int(n)))
        elif m.group("paren") is not None:
            out.append((m.group("paren"), None))
        else:
            word = m.group("word")
            low = word.lower()
            if low in ("true", "false"):
                out.append(("lit", low == "true"))
            elif low == "null":
                out.append(("lit", None))
            elif low in COMPARISONS or low in ("and", "or", "not"):
                out.append((low, None))
            else:
                out.append(("name", word))
    return out


def _fold(value):
    return value.casefold() if isinstance(value, str) else value


def _compare(op: str, left, right) -> bool:
    left, right = _fold(left), _fold(right)
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]
    except TypeError:
        return False


class _Parser:
    """Recursive descent: or > and > not > comparison > operand; returns predicates over a row."""

    def __init__(self, text: str, properties: dict[str, str], type_name: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.properties = properties  # lower-case name -> real name
        self.type_name = type_name

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, kind=None):
        tok = self.peek()
        if tok[0] is None or (kind is not None and tok[0] != kind):
            raise bad_request(f"The query specified in the URI is not valid. Unexpected end or token in '{self.text}'.")
        self.i += 1
        return tok

    def parse(self):
        pred = self.or_()
        if self.i != len(self.toks):
            raise bad_request(f"The query specified in the URI is not valid. Unexpected token in '{self.text}'.")
        return pred

    def or_(self):
        left = self.and_()
        while self.peek()[0] == "or":
            self.take()
            right = self.and_()
            left = (lambda a, b: lambda row: a(row) or b(row))(left, right)
        return left

    def and_(self):
        left = self.not_()
        while self.peek()[0] == "and":
            self.take()
            right = self.not_()
            left = (lambda a, b: lambda row: a(row) and b(row))(left, right)
        return left

    def not_(self):
        if self.peek()[0] == "not":
            self.take()
            inner = self.not_()
            return lambda row: not inner(row)
        return self.comparison()

    def comparison(self):
        kind, value = self.peek()
        if kind == "(":
            self.take()
            inner = self.or_()
            self.take(")")
            return inner
        if kind == "name" and str(value).lower() in FUNCTIONS:
            return self.function()
        left = self.operand()
        op = self.peek()[0]
        if op not in COMPARISONS:
            raise bad_request(f"The query specified in the URI is not valid. A comparison is expected in '{self.text}'.")
        self.take()
        right = self.operand()
        return lambda row: _compare(op, left(row), right(row))

    def function(self):
        name = str(self.take("name")[1]).lower()
        self.take("(")
        left = self.operand()
        self.take(",")
        right = self.operand()
        self.take(")")

        def test(row):
            a, b = _fold(left(row)), _fold(right(row))
            if not isinstance(a, str) or not isinstance(b, str):
                return False
            return {"startswith": a.startswith, "endswith": a.endswith, "contains": a.__contains__}[name](b)
        return test

    def operand(self):
        kind, value = self.take()
        if kind == "lit":
            return lambda row: value
        if kind == "name":
            real = self.properties.get(str(value).lower())
            if real is None:
                raise bad_request(f"Could not find a property named '{value}' on type 'AdminService.{self.type_name}'.")
            if self.properties.get("__array__" + real.lower()):
                raise bad_request(f"The property '{real}' is a collection; it cannot be compared in $filter.")
            return lambda row: row.get(real)
        raise bad_request(f"The query specified in the URI is not valid. Unexpected token in '{self.text}'.")


def _property_map(properties: list[str], arrays: set[str]) -> dict[str, str]:
    out = {p.lower(): p for p in properties}
    out.update({"__array__" + a.lower(): a for a in arrays})
    return out


def _non_negative(name: str, value: str) -> int:
    if not value.isdigit():
        raise bad_request(f"Invalid value '{value}' for {name} query option found. "
                          f"The {name} query option requires a non-negative integer value.")
    return int(value)


def query(rows: list[dict], raw_query: str, type_name: str, properties: list[str], arrays: set[str],
          page_size: int, base_url: str, context: str) -> dict:
    """Apply the OData query options in ``raw_query`` to ``rows``; return the response body."""
    options: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        low = key.lower()
        if not low.startswith("$"):
            continue  # custom query options are ignored, as by the real server
        if low in UNSUPPORTED_OPTIONS:
            raise bad_request(f"The query option '{key}' is not supported by this simulated route.")
        if low not in KNOWN_OPTIONS:
            raise bad_request(f"The query parameter '{key}' is not supported.")
        if low in options:
            raise bad_request(f"Query option '{key}' was specified more than once, but it must be specified at most once.")
        options[low] = value
    props = _property_map(properties, arrays)
    if options.get("$filter"):
        pred = _Parser(options["$filter"], props, type_name).parse()
        rows = [r for r in rows if pred(r)]
    if options.get("$orderby"):
        for part in reversed([p.strip() for p in options["$orderby"].split(",")]):
            name, _, direction = part.partition(" ")
            real = props.get(name.lower())
            if real is None:
                raise bad_request(f"Could not find a property named '{name}' on type 'AdminService.{type_name}'.")
            direction = direction.strip().lower() or "asc"
            if direction not in ("asc", "desc"):
                raise bad_request(f"Invalid $orderby direction '{direction}'.")
            rows = sorted(rows, key=lambda r: (r.get(real) is not None, _fold(r.get(real))),
                          reverse=direction == "desc")
    total = len(rows)
    skip = _non_negative("$skip", options["$skip"]) if "$skip" in options else 0
    top = _non_negative("$top", options["$top"]) if "$top" in options else None
    rows = rows[skip:]
    if top is not None:
        rows = rows[:top]
    page, rest = rows[:page_size], rows[page_size:]
    selected = None
    if options.get("$select"):
        selected = []
        for name in (p.strip() for p in options["$select"].split(",")):
            real = props.get(name.lower())
            if real is None:
                raise bad_request(f"Could not find a property named '{name}' on type 'AdminService.{type_name}'.")
            selected.append(real)
    body: dict = {"@odata.context": context}
    if options.get("$count", "").lower() == "true":
        body["@odata.count"] = total
    elif "$count" in options and options["$count"].lower() != "false":
        raise bad_request(f"'{options['$count']}' is not a valid count option.")
    body["value"] = [{k: r.get(k) for k in selected} if selected else dict(r) for r in page]
    if rest:
        following = {k: v for k, v in options.items() if k not in ("$skip", "$top")}
        following["$skip"] = str(skip + len(page))
        if top is not None:
            following["$top"] = str(top - len(page))
        body["@odata.nextLink"] = base_url + "?" + urlencode(following, safe="$,'()", quote_via=quote)
    return body
