"""Query strings (FilterSpecs) and the Page envelope."""

from __future__ import annotations

import math
import time
from urllib.parse import parse_qsl, quote

from .dto import T
from .errors import ApiError
from .util import datetime_str, now_ms

PAGING_KEYS = {"offset", "limit", "page"}
DEFAULT_LIMIT = 2000
TRI = {"TRUE", "FALSE", "BOTH"}


def bad_param(name: str, value) -> ApiError:
    return ApiError(400, "ERR-API-4003", "Invalid query parameter", f"{name}={value!r}")


class Query:
    def __init__(self, raw: str):
        self.raw = raw or ""
        self.pairs = parse_qsl(self.raw, keep_blank_values=True)
        self.map: dict[str, list[str]] = {}
        for k, v in self.pairs:
            self.map.setdefault(k, []).append(v)

    def has(self, name: str) -> bool:
        return name in self.map

    def get(self, name: str, default=None):
        vals = self.map.get(name)
        return vals[-1] if vals else default

    def getlist(self, *names: str) -> list[str]:
        """Multi-valued params accept a,b,c or repeated keys (several aliases may be given)."""
        out: list[str] = []
        for name in names:
            for v in self.map.get(name, []):
                out.extend(x.strip() for x in v.split(",") if x.strip())
        return out

    def tri(self, name: str, default: str = "BOTH") -> str:
        v = self.get(name)
        if v is None or v == "":
            return default
        u = v.strip().upper()
        if u in TRI:
            return u
        if u == "NOT_FOUND":
            return default
        raise bad_param(name, v)

    def int(self, name: str, default=None):
        v = self.get(name)
        if v is None or v == "":
            return default
        try:
            return int(v)
        except ValueError:
            raise bad_param(name, v) from None

    def filters(self) -> list[tuple[str, str]]:
        """Active non-paging params, one entry per key (repeated keys comma-joined)."""
        out = []
        for k, vals in self.map.items():
            if k not in PAGING_KEYS:
                out.append((k, ",".join(vals)))
        return out


def tri_match(flag: bool, tri: str) -> bool:
    return tri == "BOTH" or (tri == "TRUE") == bool(flag)


def _plain(value: str) -> str:
    # Values stay readable; only characters that would break "k=v&k=v" splitting are escaped.
    return quote(value, safe=" ,:;!$'()*@/[]{}|^~`\"<>\\")


def page(query: Query, items: list, render, absolute_total: int | None = None,
         total: int | None = None, started: float | None = None) -> dict:
    limit = query.int("limit", DEFAULT_LIMIT)
    if limit is None or limit <= 0:
        if limit is not None and limit < 0:
            raise bad_param("limit", limit)
        limit = DEFAULT_LIMIT
    offset_raw = query.get("offset")
    if offset_raw not in (None, ""):
        if offset_raw.startswith("position:"):
            offset_raw = offset_raw.split(":", 1)[1]
        try:
            offset = int(offset_raw)
        except ValueError:
            raise bad_param("offset", offset_raw) from None
    else:
        p = query.int("page")
        offset = (p - 1) * limit if p and p > 0 else 0
    if offset < 0:
        raise bad_param("offset", offset)
    filtered = len(items)
    chunk = items[offset:offset + limit]
    out = {
        "typeId": T["Page"],
        "absoluteTotal": absolute_total if absolute_total is not None else filtered,
        "total": total if total is not None else filtered,
        "filteredTotal": filtered,
        "limit": limit,
        "offset": offset,
        "page": offset // limit + 1,
        # pageTotal read as the number of pages (the Page DTO's wording), at least 1.
        "pageTotal": max(1, math.ceil(filtered / limit)),
        "overflow": False,
        "lastUpdatedTime": datetime_str(now_ms()),
        "items": [render(x) for x in chunk],
    }
    filt = "".join(f"&{k}={_plain(v)}" for k, v in query.filters())
    if offset + len(chunk) < filtered:
        out["next"] = f"offset={offset + limit}&limit={limit}{filt}"
    if offset > 0:
        out["prev"] = f"offset={max(0, offset - limit)}&limit={limit}{filt}"
    out["completedIn"] = int((time.time() - started) * 1000) if started else 0
    return out


def sort_items(items: list, query: Query, keys: dict, default_key=None) -> list:
    """sortedBy=<DTO property> with sortOrder=ASC|DESC; unknown properties keep the default order."""
    by = query.get("sortedBy")
    order = (query.get("sortOrder") or "ASC").upper()
    if order not in ("ASC", "DESC"):
        raise bad_param("sortOrder", order)
    fn = keys.get(by) if by else default_key
    if fn is None:
        return items
    return sorted(items, key=fn, reverse=(order == "DESC"))
