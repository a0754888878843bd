"""What a pipeline asks for: the operation marker of its script and its bound parameters.

The simulator never runs PowerShell. It reads the `# op: <product>.<name> v<N>` marker and the
names in the script's `param(...)` block, and binds the PSRP arguments to those names the way
PowerShell's parameter binder would report mistakes (unknown name, missing mandatory
parameter, too many positional arguments), so a runner bug shows up here and not first in a
real lab.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MARKER = re.compile(r"^#\s*op:\s*(?P<name>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+)\s+v(?P<version>\d+)\s*$")
# automatic variables that may appear in a param block's default values
_AUTOMATIC = {"true", "false", "null"}


@dataclass
class Param:
    name: str
    mandatory: bool = False
    switch: bool = False


@dataclass
class Invocation:
    """The first command of a pipeline as the client sent it."""

    command: str
    is_script: bool
    named: list[tuple[str, object]] = field(default_factory=list)
    positional: list[object] = field(default_factory=list)
    extra_commands: list[str] = field(default_factory=list)
    op: str | None = None
    version: int | None = None
    declared: list[Param] | None = None


def find_marker(script: str) -> tuple[str, int] | None:
    """The marker among the script's leading comment lines (blank lines allowed before it)."""
    for raw in script.splitlines():
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        if not line.startswith("#") or line.lower().startswith("#requires"):
            return None
        m = MARKER.match(line)
        if m:
            return m.group("name"), int(m.group("version"))
    return None


def _skip_string(text: str, i: int) -> int:
    """Index after the string literal starting at text[i] (single or double quoted, here-strings too)."""
    quote = text[i]
    if i > 0 and text[i - 1] == "@" and text[i + 1:i + 2] in ("\n", "\r"):  # here-string: @'<newline> ... '@
        end = text.find("\n" + quote + "@", i)
        return len(text) if end < 0 else end + 3
    j = i + 1
    while j < len(text):
        c = text[j]
        if quote == '"' and c == "`":
            j += 2
            continue
        if c == quote:
            if j + 1 < len(text) and text[j + 1] == quote:  # doubled quote is an escaped quote
                j += 2
                continue
            return j + 1
        j += 1
    return j


def _skip_comment(text: str, i: int) -> int:
    if text.startswith("<#", i):
        end = text.find("#>", i + 2)
        return len(text) if end < 0 else end + 2
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _param_block(script: str) -> str | None:
    """The text inside the script-level `param( ... )`, or None when there is none."""
    i, n = 0, len(script)
    while i < n:
        c = script[i]
        if c.isspace():
            i += 1
        elif c == "#" or script.startswith("<#", i):
            i = _skip_comment(script, i)
        elif c == "[":  # [CmdletBinding()] and other script attributes
            i = _balanced(script, i)
        elif script[i:i + 5].lower() == "param":
            j = i + 5
            while j < n and script[j].isspace():
                j += 1
            if j < n and script[j] == "(":
                end = _balanced(script, j)
                return script[j + 1:end - 1]
            return None
        else:
            return None
    return None


def _balanced(text: str, i: int) -> int:
    """Index after the bracket group opening at text[i]."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[text[i]]]
    j = i + 1
    while j < len(text) and stack:
        c = text[j]
        if c in "'\"":
            j = _skip_string(text, j)
            continue
        if c == "#" or text.startswith("<#", j):
            j = _skip_comment(text, j)
            continue
        if c in pairs:
            stack.append(pairs[c])
        elif c == stack[-1]:
            stack.pop()
        j += 1
    return j


def _split_top(text: str) -> list[str]:
    parts, start, j = [], 0, 0
    while j < len(text):
        c = text[j]
        if c in "'\"":
            j = _skip_string(text, j)
            continue
        if c == "#" or text.startswith("<#", j):
            j = _skip_comment(text, j)
            continue
        if c in "([{":
            j = _balanced(text, j)
            continue
        if c == ",":
            parts.append(text[start:j])
            start = j + 1
        j += 1
    parts.append(text[start:])
    return parts


def _declaration(segment: str) -> Param | None:
    i, n = 0, len(segment)
    mandatory = switch = False
    while i < n:
        c = segment[i]
        if c.isspace():
            i += 1
        elif c == "#" or segment.startswith("<#", i):
            i = _skip_comment(segment, i)
        elif c == "[":
            end = _balanced(segment, i)
            attr = segment[i + 1:end - 1].strip().lower()
            if attr.startswith("parameter") and re.search(r"\bmandatory\b(?!\s*=\s*\$false)", attr):
                mandatory = True
            if attr in ("switch", "system.management.automation.switchparameter"):
                switch = True
            i = end
        elif c == "$":
            m = re.match(r"\$(?:\{([^}]+)\}|([A-Za-z_][A-Za-z0-9_]*))", segment[i:])
            if not m:
                return None
            name = m.group(1) or m.group(2)
            if name.lower() in _AUTOMATIC:
                return None
            return Param(name, mandatory, switch)
        else:
            return None
    return None


def declared_params(script: str) -> list[Param] | None:
    """Parameters declared by the script's param block (None when the script has no param block)."""
    block = _param_block(script)
    if block is None:
        return None
    return [p for p in (_declaration(s) for s in _split_top(block)) if p is not None]


class BindingError(Exception):
    """A parameter binding failure as PowerShell reports it (ParameterBindingException)."""

    def __init__(self, message: str, error_id: str, category: str, target=None):
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.category = category
        self.target = target


def bind(inv: Invocation) -> dict:
    """Named and positional arguments bound to the declared parameters, by their declared spelling.

    Names match case-insensitively and by unique prefix, like PowerShell. Without a param block
    only named arguments are accepted, under the names the client used.
    """
    params: dict = {}
    declared = inv.declared
    if declared is None:
        for name, value in inv.named:
            params[name] = value
        if inv.positional:
            raise BindingError(f"A positional parameter cannot be found that accepts argument '{inv.positional[0]}'.",
                               "PositionalParameterNotFound", "InvalidArgument", inv.positional[0])
        return params
    by_lower = {p.name.lower(): p for p in declared}
    for name, value in inv.named:
        key = name.lstrip("-").lower()
        param = by_lower.get(key)
        if param is None:
            hits = [p for p in declared if p.name.lower().startswith(key)]
            if len(hits) > 1:
                names = " ".join("-" + p.name for p in hits)
                raise BindingError(f"Parameter cannot be processed because the parameter name '{name}' is ambiguous. "
                                   f"Possible matches include: {names}.", "AmbiguousParameter", "InvalidArgument")
            if not hits:
                raise BindingError(f"A parameter cannot be found that matches parameter name '{name}'.",
                                   "NamedParameterNotFound", "InvalidArgument")
            param = hits[0]
        if param.name in params:
            raise BindingError(f"Cannot bind parameter because parameter '{param.name}' is specified more than once. "
                               "To provide multiple values to parameters that can accept multiple values, use the "
                               "array syntax. For example, \"-parameter value1,value2,value3\".",
                               "ParameterAlreadyBound", "InvalidArgument")
        params[param.name] = value
    free = [p for p in declared if p.name not in params and not p.switch]
    for value in inv.positional:
        if not free:
            raise BindingError(f"A positional parameter cannot be found that accepts argument '{value}'.",
                               "PositionalParameterNotFound", "InvalidArgument", value)
        params[free.pop(0).name] = value
    missing = [p.name for p in declared if p.mandatory and p.name not in params]
    if missing:
        raise BindingError("Cannot process command because of one or more missing mandatory parameters: "
                           f"{' '.join(missing)}.", "MissingMandatoryParameter", "InvalidArgument")
    return params
