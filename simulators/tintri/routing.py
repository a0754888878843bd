"""Route table and request context for the REST API (paths below /api)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .endpoints import DOCUMENTED
from .errors import invalid_input
from .query import Query


def _compile(template: str) -> re.Pattern:
    parts = re.split(r"(\{[^}]+\})", template)
    rx = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{rx}$")


@dataclass
class Route:
    method: str
    template: str
    handler: object
    support: str = "All"          # All | VMstoreOnly | TgcOnly
    auth: bool = True
    write: bool = False           # refused for read-only users
    rx: re.Pattern = field(init=False)
    literal: int = field(init=False)

    def __post_init__(self):
        self.rx = _compile(self.template)
        self.literal = len(re.sub(r"\{[^}]+\}", "", self.template))


class Router:
    def __init__(self, routes: list[Route]):
        # more literal templates first: /v310/vm/sync before /v310/vm/{vmId}
        self.routes = sorted(routes, key=lambda r: -r.literal)
        self.documented = sorted(
            [(m, _compile(p), s, len(re.sub(r"\{[^}]+\}", "", p))) for m, p, s in DOCUMENTED],
            key=lambda x: -x[3],
        )

    def match(self, method: str, path: str):
        """-> (route, params) | ("405", None) | None for implemented routes."""
        path_hit = False
        for r in self.routes:
            m = r.rx.match(path)
            if m:
                if r.method == method:
                    return r, m.groupdict()
                path_hit = True
        return ("405", None) if path_hit else None

    def documented_match(self, method: str, path: str):
        """-> (support, method_known) for the most specific documented template, or None."""
        found = None
        for m, rx, support, _ in self.documented:
            if rx.match(path):
                if m == method:
                    return support, True
                if found is None:
                    found = (support, False)
        return found


class Ctx:
    """One API request as the handlers see it."""

    def __init__(self, lab, app, method: str, path: str, raw_query: str, headers, body: bytes, client_ip: str):
        self.lab = lab
        self.app = app
        self.method = method
        self.path = path
        self.query = Query(raw_query)
        self.headers = headers
        self.raw_body = body
        self.client_ip = client_ip
        self.params: dict[str, str] = {}
        self.session: dict | None = None
        self.token: str | None = None

    @property
    def user(self) -> str:
        return self.session["userName"] if self.session else ""

    def body(self):
        """Parsed JSON body; empty body and ``null`` both give None."""
        raw = self.raw_body.strip()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise invalid_input(f"request body is not valid JSON: {exc}") from None


@dataclass
class Reply:
    status: int
    body: object = None
    headers: dict = field(default_factory=dict)
    empty: bool = False           # 204-style: no body at all
