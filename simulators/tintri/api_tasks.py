"""REST handlers: tasks (on a TGC also the member VMstores' tasks)."""

from __future__ import annotations

import time

from . import dto
from .errors import not_found
from .query import page, sort_items
from .routing import Reply
from .util import now_ms

# --- tasks ---------------------------------------------------------------------------------

def _task_sources(ctx):
    return [ctx.app] + (ctx.lab.members(ctx.app) if ctx.app.is_tgc else [])


def task_list(ctx):
    started = time.time()
    q = ctx.query
    ids = set(q.getlist("id", "uuid"))
    prefix = q.get("startsWithId")
    states = {s.upper() for s in q.getlist("state")}
    types = {t.upper() for t in q.getlist("jobType", "jobTypes", "type")}
    target = set(q.getlist("targetId"))
    created_by = q.get("createdBy")
    stores = set(q.getlist("vmstoreTintriIds"))
    with ctx.lab.lock:
        rows = []
        for app in _task_sources(ctx):
            if stores and app is not ctx.app and app.vmstore_uuid not in stores:
                continue
            for t in app.state["tasks"].values():
                if ids and t["id"] not in ids:
                    continue
                if prefix and not t["id"].startswith(prefix):
                    continue
                if states and t["state"] not in states:
                    continue
                if types and t["type"] not in types:
                    continue
                if target and not target.intersection(t["targetIds"]):
                    continue
                if created_by and t.get("createdBy") != created_by:
                    continue
                rows.append((app, t))
        rows = sort_items(rows, q, {"createDate": lambda p: p[1]["created"]}, lambda p: p[1]["created"])
        return Reply(200, page(q, rows, lambda p: dto.task(p[1], _task_fields(ctx, p[0], p[1])), None, None, started))


def _task_fields(ctx, app, t):
    if ctx.app.is_tgc and app is not ctx.app:
        return {"vmstoreNameOrIp": app.hostname, "vmstoreTaskId": t["id"], "vmstoreTintriId": app.vmstore_uuid}
    return None


def _find_task(ctx, tid):
    for app in _task_sources(ctx):
        t = app.state["tasks"].get(tid)
        if t is not None:
            return app, t
    raise not_found("Task", tid)


def task_get(ctx):
    with ctx.lab.lock:
        app, t = _find_task(ctx, ctx.params["id"])
        return Reply(200, dto.task(t, _task_fields(ctx, app, t)))


def task_cancel(ctx):
    with ctx.lab.lock:
        app, t = _find_task(ctx, ctx.params["id"])
        if t["state"] in ("QUEUED", "RUNNING"):
            ctx.lab.engine._run_finals(app, t, failed=True)
            t["state"] = "CANCELLED"
            t["description"] = "Cancelled"
            t["updated"] = now_ms()
            app.changed()
        return Reply(204, empty=True)


