"""Small helpers shared by the Tintri simulator: coercion (lenient like Jackson), times, sizes, ids."""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import time

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def now_ms() -> int:
    return int(time.time() * 1000)


def datetime_str(ms: int | float | None) -> str | None:
    """DTO ``DateTime`` values are strings like 2024-05-01T06:00:00.000+00:00."""
    if ms is None:
        return None
    t = _dt.datetime.fromtimestamp(ms / 1000.0, _dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+00:00"


def parse_size(value) -> int:
    """Bytes from an int or a string like "8MiB", "2GiB", "512KiB", "1048576"."""
    if isinstance(value, bool):
        raise ValueError(f"invalid size: {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    m = _SIZE_RE.match(str(value))
    if not m:
        raise ValueError(f"invalid size: {value!r}")
    unit = (m.group(2) or "").upper()[:1]
    return int(float(m.group(1)) * _UNITS[unit])


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_DUR_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value) -> float:
    """Seconds from a number or "90s", "30m", "12h", "2d", "1w"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = _DURATION_RE.match(str(value))
    if not m:
        raise ValueError(f"invalid duration: {value!r}")
    return float(m.group(1)) * _DUR_UNITS[m.group(2).lower()]


class CoercionError(ValueError):
    pass


def as_bool(value, default=None):
    """Booleans as the real server's JSON binding accepts them: true/"true"/"True"/1."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("true", "1", "yes"):
            return True
        if v in ("false", "0", "no", ""):
            return False
    raise CoercionError(f"not a boolean: {value!r}")


def as_int(value, default=None):
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise CoercionError(f"not a number: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            raise CoercionError(f"not a number: {value!r}") from None
        if f.is_integer():
            return int(f)
    raise CoercionError(f"not an integer: {value!r}")


def as_str(value, default=None):
    if value is None:
        return default
    if isinstance(value, (dict, list)):
        raise CoercionError(f"not a string: {value!r}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_list(value):
    """A single value where a list is expected becomes a one-element list (Jackson's leniency)."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def as_str_list(value):
    return [as_str(v) for v in as_list(value) if v is not None]


def stable_hash(*parts) -> int:
    h = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8)
    return int.from_bytes(h.digest(), "big")


def fs_uuid(seed: str) -> str:
    """A filesystem UUID in the style of the docs: C218198C-9CE4-E5FD-00B3-EE96D2B3270F."""
    h = hashlib.sha256(seed.encode()).hexdigest().upper()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def tintri_id(fs: str, kind: str, seq: int) -> str:
    """<fs-UUID>-<KIND>-<16 hex digits>, e.g. ...-VIM-0000000000000056."""
    return f"{fs}-{kind}-{seq:016X}"


def safe_dir_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" .")
    return cleaned or "vm"
