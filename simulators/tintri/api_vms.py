"""REST handlers: VMs (list, get, clone/restore), SyncVM and virtual disks.

On a TGC the VM handlers read the member VMstores' models in process, the way the real TGC
aggregates its VMstores."""

from __future__ import annotations

import time

from . import dto, operations
from .errors import ApiError, not_found
from .query import page, sort_items, tri_match
from .routing import Reply
from .util import now_ms

# --- VMs -----------------------------------------------------------------------------------

def _vm_filter(q):
    name = (q.get("name") or "").lower()
    uuids = set(q.getlist("uuid"))
    live, deleted = q.tri("live"), q.tri("deleted")
    powered, template = q.tri("powered"), q.tri("template")
    hyper = {x.upper() for x in q.getlist("hypervisorType")}
    hosts = {x.lower() for x in q.getlist("host", "hosts")}
    vcenters = {x.lower() for x in q.getlist("vcenterName", "vcenterNames")}
    subdir = q.get("subdir")
    sgs = set(q.getlist("serviceGroupId", "serviceGroupIds"))
    sgname = q.get("serviceGroupName")
    instance = q.get("instanceUuid")
    container = q.get("storageContainer")
    types = {t.upper() for t in q.getlist("types")}
    clone_from = q.get("cloneFrom")

    def match(app, rec) -> bool:
        if name and name not in rec["name"].lower():
            return False
        if uuids and rec["id"] not in uuids:
            return False
        if not tri_match(rec["live"], live) or not tri_match(rec.get("deleted"), deleted):
            return False
        if not tri_match(rec.get("powered"), powered) or not tri_match(rec.get("template"), template):
            return False
        if hyper and rec["hypervisorType"] not in hyper:
            return False
        if hosts and (rec.get("host") or "").lower() not in hosts:
            return False
        if vcenters and (rec.get("vcenterName") or "").lower() not in vcenters:
            return False
        if subdir is not None and rec.get("subdir") != subdir.strip("/"):
            return False
        sg = rec.get("serviceGroup") or {}
        if sgs and sg.get("id") not in sgs:
            return False
        if sgname and sg.get("name") != sgname:
            return False
        if instance and rec.get("instanceUuid") != instance:
            return False
        if container and container not in (rec.get("storageContainers") or []):
            return False
        if types and not (("LIVE" in types and rec["live"]) or ("HISTORICAL" in types and not rec["live"])):
            return False
        if clone_from and clone_from not in [c["snapshotId"] for c in rec.get("cloneFromSnapshots") or []]:
            return False
        return True

    return match


VM_SORT = {
    "name": lambda p: p[1]["name"].lower(),
    "vmware.name": lambda p: p[1]["name"].lower(),
    "uuid": lambda p: p[1]["id"],
    "uuid.uuid": lambda p: p[1]["id"],
    "lastUpdatedTime": lambda p: p[1].get("lastChanged", 0),
    "spaceUsedGiB": lambda p: sum(d["size"] for d in p[1]["disks"]),
}


def _vm_sources(ctx):
    return ctx.lab.members(ctx.app) if ctx.app.is_tgc else [ctx.app]


def _tgc_vm_fields(ctx, app):
    return {"vmstoreName": app.hostname, "vmstoreTintriUuid": app.vmstore_uuid} if ctx.app.is_tgc else None


def vm_list(ctx):
    started = time.time()
    match = _vm_filter(ctx.query)
    with ctx.lab.lock:
        pairs, absolute, total = [], 0, 0
        for app in _vm_sources(ctx):
            app.discover()
            absolute += len(app.vms)
            for rec in app.vms.values():
                total += 1 if rec["live"] else 0
                if match(app, rec):
                    pairs.append((app, rec))
        pairs = sort_items(pairs, ctx.query, VM_SORT)
        now = now_ms()
        return Reply(200, page(ctx.query, pairs, lambda p: dto.vm(p[0], p[1], now, _tgc_vm_fields(ctx, p[0])),
                               absolute, total, started))


def _find_vm(ctx, vm_id: str):
    for app in _vm_sources(ctx):
        rec = app.vm(vm_id)
        if rec is not None:
            return app, rec
    raise not_found("VirtualMachine", vm_id)


def vm_get(ctx):
    with ctx.lab.lock:
        for app in _vm_sources(ctx):
            app.discover()
        app, rec = _find_vm(ctx, ctx.params["vmId"])
        return Reply(200, dto.vm(app, rec, now_ms(), _tgc_vm_fields(ctx, app)))


def _task_reply(ctx, app, task):
    fields = None
    if ctx.app.is_tgc:
        fields = {"vmstoreNameOrIp": app.hostname, "vmstoreTaskId": task["id"], "vmstoreTintriId": app.vmstore_uuid}
    return Reply(200, dto.task(task, fields))


def vm_clone(ctx):
    spec = ctx.body()
    with ctx.lab.lock:
        app = ctx.app
        if app.is_tgc:
            if not isinstance(spec, dict) or not spec.get("vmId"):
                raise ApiError(400, "ERR-API-3205", "Invalid clone request.", "vmId is required on Tintri Global Center")
            try:
                app, _ = _find_vm(ctx, str(spec["vmId"]))
            except ApiError:
                raise ApiError(404, "ERR-API-3214", "Resource not found for clone request.",
                               f"VM '{spec['vmId']}' not found") from None
        task = operations.submit_clone(ctx.lab, app, spec, ctx.user)
        return _task_reply(ctx, app, task)


def vm_sync(ctx):
    spec = ctx.body()
    with ctx.lab.lock:
        task = operations.submit_sync(ctx.lab, ctx.app, spec, ctx.user)
        return _task_reply(ctx, ctx.app, task)


def virtual_disk_list(ctx):
    started = time.time()
    q = ctx.query
    vm_ids = set(q.getlist("vmUuid"))
    vm_name = q.get("vmName")
    names = set(q.getlist("name"))
    display = q.get("displayName")
    path = q.get("path")
    uuids = set(q.getlist("uuid"))
    drive = q.tri("isDiskDrive")
    with ctx.lab.lock:
        app = ctx.app
        app.discover()
        rows = []
        for rec in app.vms.values():
            if not rec["live"] or (vm_ids and rec["id"] not in vm_ids):
                continue
            if vm_name and vm_name.lower() not in rec["name"].lower():
                continue
            for d in rec["disks"]:
                if names and d["name"] not in names:
                    continue
                if uuids and d["uuid"] not in uuids:
                    continue
                if path and path not in d["file"]:
                    continue
                if display and display.lower() not in f"{rec['name']} {d['name']}".lower():
                    continue
                if not tri_match(d.get("isDiskDrive", True), drive):
                    continue
                rows.append((rec, d))
        rows = sort_items(rows, q, {"name": lambda r: r[1]["name"], "vmName": lambda r: r[0]["name"]})
        total = sum(len(r["disks"]) for r in app.vms.values() if r["live"])
        return Reply(200, page(q, rows, lambda r: dto.virtual_disk(app, r[0], r[1]), total, total, started))


