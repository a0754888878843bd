"""REST handlers: snapshots."""

from __future__ import annotations

import time

from . import dto, operations
from .api_system import json_string
from .errors import ApiError, not_found
from .query import page, sort_items
from .routing import Reply

# --- snapshots -----------------------------------------------------------------------------

SNAP_SORT = {
    "createTime": lambda s: (s["createTime"], s["id"]),
    "description": lambda s: s["description"].lower(),
    "vmName": lambda s: s["vmName"].lower(),
    "expirationTime": lambda s: s["expirationTime"],
    "uuid": lambda s: s["id"],
}


def _on_snapshot(fn):
    return lambda pair: fn(pair[1])


SNAP_SORT_PAIRS = {k: _on_snapshot(f) for k, f in SNAP_SORT.items()}


def snapshot_list(ctx):
    started = time.time()
    q = ctx.query
    with ctx.lab.lock:
        if ctx.app.is_tgc:
            vm_ids = q.getlist("vmUuid")
            if not vm_ids:
                raise ApiError(400, "ERR-API-4003", "Invalid query parameter",
                               "vmUuid is required when listing snapshots on Tintri Global Center")
            rows, absolute, total = [], 0, 0
            for app in ctx.lab.members(ctx.app):
                if any(app.vm(v) for v in vm_ids):
                    r, a, t = operations.snapshot_filter(app, q, True)
                    rows += [(app, s) for s in r]
                    absolute += a
                    total += t
        else:
            r, absolute, total = operations.snapshot_filter(ctx.app, q)
            rows = [(ctx.app, s) for s in r]
        rows = sort_items(rows, q, SNAP_SORT_PAIRS)
        tgc = ctx.app.is_tgc
        return Reply(200, page(q, rows, lambda p: dto.snapshot(
            p[0], p[1], {"hostNameOrIp": p[0].hostname, "vmstoreTintriUuid": p[0].vmstore_uuid} if tgc else None),
            absolute, total, started))


def snapshot_create(ctx):
    body = ctx.body()
    with ctx.lab.lock:
        ids = operations.create_snapshots(ctx.app, body, ctx.user)
    return Reply(200, ids)


def _snapshot_or_404(app, sid):
    s = app.snapshots.get(sid)
    if s is None:
        raise not_found("Snapshot", sid)
    return s


def snapshot_get(ctx):
    with ctx.lab.lock:
        return Reply(200, dto.snapshot(ctx.app, _snapshot_or_404(ctx.app, ctx.params["id"])))


def snapshot_disks(ctx):
    with ctx.lab.lock:
        s = _snapshot_or_404(ctx.app, ctx.params["id"])
        if s.get("deleted"):
            raise ApiError(500, "ERR-API-3700", "Failed to retrieve disk information",
                           f"snapshot '{s['id']}' has been deleted")
        return Reply(200, [dto.snapshot_disk(d) for d in s["disks"]])


def snapshot_delete(ctx):
    with ctx.lab.lock:
        return json_string(operations.delete_snapshot(ctx.app, ctx.params["id"]))


def snapshot_delete_filtered(ctx):
    with ctx.lab.lock:
        if not ctx.query.getlist("vmUuid"):
            raise ApiError(400, "ERR-API-4003", "Invalid query parameter", "vmUuid is required")
        rows, _, _ = operations.snapshot_filter(ctx.app, ctx.query, True)
        rows = [s for s in rows if not s.get("deleted")]
        kept = []
        for s in rows:
            if ctx.app.clone_reference_count(s["id"]) or s.get("busy"):
                kept.append(s["id"])
            else:
                ctx.app.mark_snapshot_deleted(s)
        ctx.app.changed()
        if kept:
            raise ApiError(500, "ERR-API-3129", "Failed to delete all snapshots.",
                           f"{len(kept)} snapshot(s) have clone references or are in use: {', '.join(kept)}")
        return json_string(f"Deleted {len(rows)} snapshot(s)")


