"""REST handlers for both personalities and the route table.

VMstore handlers work on their own appliance; TGC handlers read the member VMstores' models
in process (the TGC aggregates them the way the real one polls its VMstores).
"""

from __future__ import annotations

import json
import time

from . import dto, operations, recommendations
from .errors import ApiError, invalid_input, not_found
from .query import page, sort_items, tri_match
from .routing import Reply, Route
from .util import datetime_str, now_ms, stable_hash

CRED_TYPE = "com.tintri.api.rest.vcommon.dto.rbac.RestApiCredentials"


def _json_string(s: str) -> Reply:
    return Reply(200, json.dumps(s))  # String outputs are JSON string literals


# --- discovery and sessions ----------------------------------------------------------------

def info(ctx):
    app = ctx.app
    return Reply(200, {
        "typeId": dto.T["RestApi"],
        "productName": "Tintri Global Center" if app.is_tgc else "Tintri VMstore",
        "preferredVersion": app.cfg["api"]["preferredVersion"],
        "supportedVersionSet": list(app.cfg["api"]["supportedVersionSet"]),
    })


def login(ctx):
    body = ctx.body()
    if not isinstance(body, dict):
        raise invalid_input("the body must be a RestApiCredentials object")
    if body.get("typeId") not in (None, CRED_TYPE):
        raise invalid_input(f"unexpected typeId {body.get('typeId')!r}; expected {CRED_TYPE!r}")
    username, password = body.get("username"), body.get("password")
    user = next((u for u in ctx.app.cfg["users"]
                 if u["username"] == username and u["password"] == password and username is not None), None)
    if user is None:
        raise ApiError(403, "ERR-API-0124", "Invalid credentials",
                       "Authentication failed for the given user name and password", "Forbidden")
    if body.get("newPassword"):
        user["password"] = str(body["newPassword"])
    version = body.get("fullApiVersion")
    token, _ = ctx.app.sessions.create(user, ctx.client_ip, str(version) if version else None)
    return Reply(200, json.dumps(user["role"]), {"Set-Cookie": f"JSESSIONID={token}; Path=/; Secure; HttpOnly"})


def logout(ctx):
    ctx.app.sessions.drop(ctx.token)
    return Reply(204, empty=True)


def _session_dto(app, s: dict) -> dict:
    last = s["lastAccess"] * 1000
    return {
        "typeId": dto.T["UserSession"], "id": s["id"], "userName": s["userName"], "roles": [s["role"]],
        "authType": "LOCAL", "clientIp": s["clientIp"], "clientId": "", "clientType": "REST_API",
        "loginTime": datetime_str(s["loginTime"] * 1000), "lastAccessedTime": datetime_str(last),
        "expirationTime": datetime_str(last + app.sessions.idle_seconds * 1000),
    }


def session_current(ctx):
    return Reply(200, _session_dto(ctx.app, ctx.session))


def session_active(ctx):
    return Reply(200, [_session_dto(ctx.app, s) for s in ctx.app.sessions.active()])


# --- appliance and datastore ---------------------------------------------------------------

def _appliance_dto(lab, app) -> dict:
    return {
        "typeId": dto.T["Appliance"],
        "uuid": dto.uuid(app.appliance_uuid),
        "info": lab.appliance_info(app),
        "configIps": _ips(app),
        "dnsConfig": _dns(app),
        "maintenanceMode": _maintenance(app),
        "controllers": [
            {"typeId": dto.P + "domain.beans.hardware.ApplianceController", "locator": loc, "state": "OK",
             "role": role, "components": [], "networkBonds": []}
            for loc, role in (("A", "ACTIVE"), ("B", "STANDBY"))
        ] if not app.is_tgc else [],
        "disks": [],
        "components": [],
        "temperatures": [],
        "lastUpdatedTime": datetime_str(now_ms()),
    }


def _ips(app) -> list:
    return [{"typeId": dto.T["ApplianceIp"], "ip": "127.0.0.1", "ipCidr": "127.0.0.1/8", "netmask": "255.0.0.0",
             "gateway": "127.0.0.1", "serviceType": svc, "networkBond": "bond0", "vlanId": "untagged",
             "hostname": app.hostname, "isJumboFrameEnabled": False} for svc in ("admin", "data")]


def _dns(app) -> dict:
    return {"typeId": dto.P + "domain.beans.hardware.ApplianceDns", "dnsPrimary": "127.0.0.53",
            "dnsSecondary": "", "dnsTertiary": ""}


def _maintenance(app) -> dict:
    return {"typeId": dto.P + "domain.beans.hardware.ApplianceMaintenanceMode", "isEnabled": False}


def _appliance_or_404(ctx):
    uid = ctx.params["uuid"]
    if uid not in ("default", ctx.app.appliance_uuid):
        raise ApiError(404, "ERR-API-0102", "Failed to obtain default entity.", f"unknown appliance '{uid}'")
    return ctx.app


def appliance_list(ctx):
    return Reply(200, [_appliance_dto(ctx.lab, ctx.app)])


def appliance_get(ctx):
    return Reply(200, [_appliance_dto(ctx.lab, _appliance_or_404(ctx))])


def appliance_info(ctx):
    return Reply(200, ctx.lab.appliance_info(_appliance_or_404(ctx)))


def appliance_ips(ctx):
    return Reply(200, _ips(_appliance_or_404(ctx)))


def appliance_dns(ctx):
    return Reply(200, _dns(_appliance_or_404(ctx)))


def appliance_maintenance(ctx):
    return Reply(200, _maintenance(_appliance_or_404(ctx)))


def _datastore_dto(lab, app) -> dict:
    managers = sorted({v.get("vcenterName") for v in app.vms.values() if v.get("vcenterName")} |
                      set(app.cfg.get("hypervisorManagers", [])))
    return {
        "typeId": dto.T["Datastore"],
        "uuid": dto.uuid(app.datastore_uuid, "DATA_STORE"),
        "displayName": app.hostname,
        "applianceUuid": dto.uuid(app.appliance_uuid),
        "isDataFromAppliance": True,
        "snapshotHighFrequencyVmsCount": 0,
        "snapshotHighFrequencyVmsMax": 16,
        "stat": lab.datastore_stat(app),
        "storageContainers": [
            {"typeId": dto.T["HypervisorDatastore"], "displayName": app.cfg["storageContainer"], "hostname": m,
             "hypervisorType": "HYPERV" if "vmm" in m.lower() or "hv" in m.lower() else "VMWARE",
             "id": f"{app.cfg['storageContainer']}@{m}", "ipAddress": "127.0.0.1", "isPreferred": True,
             "accessProtocol": "NFS", "mountDirectories": ["/tintri"]}
            for m in managers
        ],
        "lastUpdatedTime": datetime_str(now_ms()),
    }


def _datastore_app(ctx):
    uid = ctx.params["uuid"]
    if ctx.app.is_tgc:
        for m in ctx.lab.members(ctx.app):
            if uid == m.datastore_uuid:
                return m
        raise not_found("Datastore", uid)
    if uid not in ("default", ctx.app.datastore_uuid):
        raise ApiError(501, "ERR-API-2001", "Datastores other than 'default datastore' are not supported.",
                       f"unknown datastore '{uid}'", "Not implemented")
    return ctx.app


def datastore_list(ctx):
    apps = ctx.lab.members(ctx.app) if ctx.app.is_tgc else [ctx.app]
    with ctx.lab.lock:
        for a in apps:
            a.discover()
        return Reply(200, [_datastore_dto(ctx.lab, a) for a in apps])


def datastore_get(ctx):
    app = _datastore_app(ctx)
    with ctx.lab.lock:
        app.discover()
        return Reply(200, _datastore_dto(ctx.lab, app))


def datastore_stats_summary(ctx):
    app = _datastore_app(ctx)
    with ctx.lab.lock:
        return Reply(200, ctx.lab.datastore_stat(app))


def datastore_stats_realtime(ctx):
    app = _datastore_app(ctx)
    with ctx.lab.lock:
        stat = ctx.lab.datastore_stat(app)
        now = now_ms()
        item = {"typeId": dto.T["Stats"], "startTime": datetime_str(now - 600_000), "endTime": datetime_str(now),
                "numberOfSlices": 1, "sortedStats": [stat]}
        return Reply(200, page(ctx.query, [item], lambda x: x))


def host_resources(ctx):
    app = _datastore_app(ctx)
    out = []
    with ctx.lab.lock:
        seen = set()
        for v in app.vms.values():
            mgr, host = v.get("vcenterName"), v.get("host")
            if not mgr or (mgr, host) in seen:
                continue
            seen.add((mgr, host))
            out.append({"typeId": dto.P + "domain.beans.vm.VirtualMachineHostResource",
                        "id": f"host-{stable_hash(mgr, host) % 10000}", "hostname": mgr,
                        "displayName": host or mgr, "type": "HOST", "path": f"/{mgr}/{host}",
                        "datastoreName": app.cfg["storageContainer"], "isPreferred": True,
                        "isStandalone": False, "isOfTemplate": False})
    return Reply(200, out)


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
        return _json_string(operations.delete_snapshot(ctx.app, ctx.params["id"]))


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
        return _json_string(f"Deleted {len(rows)} snapshot(s)")


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


# --- TGC -----------------------------------------------------------------------------------

def vmstore_list(ctx):
    with ctx.lab.lock:
        return Reply(200, [recommendations.vmstore_dto(ctx.lab, ctx.app, m) for m in ctx.lab.members(ctx.app)])


def pool_list(ctx):
    started = time.time()
    with ctx.lab.lock:
        pools = list(ctx.app.state["pools"].values())
        name = ctx.query.get("name")
        if name:
            pools = [p for p in pools if name.lower() in p["name"].lower()]
        return Reply(200, page(ctx.query, pools, lambda p: recommendations.pool_dto(ctx.lab, ctx.app, p),
                               len(ctx.app.state["pools"]), len(ctx.app.state["pools"]), started))


def pool_get(ctx):
    with ctx.lab.lock:
        pool = recommendations.pool_or_404(ctx.app, ctx.params["poolUuid"])
        return Reply(200, recommendations.pool_dto(ctx.lab, ctx.app, pool))


def reco_get(ctx):
    with ctx.lab.lock:
        pool = recommendations.pool_or_404(ctx.app, ctx.params["poolUuid"])
        reco = recommendations.reco_or_404(ctx.app, pool, ctx.params.get("recoUuid", "current"))
        return Reply(200, recommendations.reco_dto(ctx.lab, reco))


def reco_history(ctx):
    with ctx.lab.lock:
        pool = recommendations.pool_or_404(ctx.app, ctx.params["poolUuid"])
        recos = [ctx.app.state["recommendations"][r] for r in pool["history"]]
        recos.sort(key=lambda r: r["creationTime"], reverse=True)
        return Reply(200, [recommendations.reco_dto(ctx.lab, r) for r in recos])


def _reco_action(action):
    def handler(ctx):
        ctx.body()  # null, empty or any JSON body is accepted and ignored
        with ctx.lab.lock:
            pool = recommendations.pool_or_404(ctx.app, ctx.params["poolUuid"])
            reco = recommendations.reco_or_404(ctx.app, pool, ctx.params["recoUuid"])
            recommendations.transition(ctx.lab, ctx.app, reco, action)
        return Reply(204, empty=True)
    return handler


V = "VMstoreOnly"
G = "TgcOnly"
ROUTES = [
    Route("GET", "/info", info, auth=False),
    Route("POST", "/v310/session/login", login, auth=False),
    Route("GET", "/v310/session/logout", logout, auth=False),
    Route("POST", "/v310/session/logout", logout, auth=False),
    Route("GET", "/v310/session/current", session_current),
    Route("GET", "/v310/session/active", session_active),
    Route("GET", "/v310/appliance", appliance_list),
    Route("GET", "/v310/appliance/{uuid}", appliance_get),
    Route("GET", "/v310/appliance/{uuid}/info", appliance_info),
    Route("GET", "/v310/appliance/{uuid}/ips", appliance_ips),
    Route("GET", "/v310/appliance/{uuid}/dns", appliance_dns),
    Route("GET", "/v310/appliance/{uuid}/maintenanceMode", appliance_maintenance, V),
    Route("GET", "/v310/datastore", datastore_list),
    Route("GET", "/v310/datastore/{uuid}", datastore_get),
    Route("GET", "/v310/datastore/{uuid}/statsSummary", datastore_stats_summary),
    Route("GET", "/v310/datastore/{uuid}/statsRealtime", datastore_stats_realtime),
    Route("GET", "/v310/datastore/{uuid}/hostResources", host_resources, V),
    Route("GET", "/v310/vm", vm_list),
    Route("POST", "/v310/vm", vm_clone, write=True),
    Route("GET", "/v310/vm/{vmId}", vm_get),
    Route("POST", "/v310/vm/sync", vm_sync, V, write=True),
    Route("GET", "/v310/virtualDisk", virtual_disk_list, V),
    Route("GET", "/v310/snapshot", snapshot_list),
    Route("POST", "/v310/snapshot", snapshot_create, V, write=True),
    Route("DELETE", "/v310/snapshot", snapshot_delete_filtered, V, write=True),
    Route("GET", "/v310/snapshot/{id}", snapshot_get, V),
    Route("DELETE", "/v310/snapshot/{id}", snapshot_delete, V, write=True),
    Route("GET", "/v310/snapshot/{id}/disks", snapshot_disks, V),
    Route("GET", "/v310/task", task_list),
    Route("GET", "/v310/task/{id}", task_get),
    Route("DELETE", "/v310/task/{id}", task_cancel, write=True),
    Route("GET", "/v310/vmstore", vmstore_list, G),
    Route("GET", "/v310/vmstorePool", pool_list, G),
    Route("GET", "/v310/vmstorePool/{poolUuid}", pool_get, G),
    Route("GET", "/v310/vmstorePool/{poolUuid}/recommendation/current", reco_get, G),
    Route("GET", "/v310/vmstorePool/{poolUuid}/recommendation/{recoUuid}", reco_get, G),
    Route("GET", "/v310/vmstorePool/{poolUuid}/recommendationHistory", reco_history, G),
] + [
    Route("POST", f"/v310/vmstorePool/{{poolUuid}}/recommendation/{{recoUuid}}/{a}", _reco_action(a), G, write=True)
    for a in ("accept", "acknowledge", "cancel", "reset")
]
