"""VMstore operations: snapshots (create/delete), clone/restore and SyncVM.

Requests are validated synchronously (strict on what our collection sends, lenient on
encodings); clone and sync then run as tasks made of small idempotent steps (see tasks.py).
"""

from __future__ import annotations

import posixpath
from datetime import datetime, timezone

from . import files
from .errors import ApiError, invalid_input, not_found
from .seed import CONSISTENCIES, new_vm_record
from .util import CoercionError, as_bool, as_int, as_str, as_str_list, now_ms, safe_dir_name

MAX_SNAPSHOTS_PER_VM = 128
TYPE_PREFIX = "com.tintri.api.rest.v310.dto.domain.beans."
TYPE_IDS = {
    "SnapshotSpec": TYPE_PREFIX + "snapshot.SnapshotSpec",
    "VirtualMachineCloneSpec": TYPE_PREFIX + "vm.VirtualMachineCloneSpec",
    "VirtualMachineSyncSpec": TYPE_PREFIX + "vm.VirtualMachineSyncSpec",
}


def check_type(obj: dict, name: str, error: ApiError) -> None:
    """A top-level typeId, when sent, must name the expected DTO (nested typeIds are not checked)."""
    tid = obj.get("typeId")
    if tid is not None and tid != TYPE_IDS[name]:
        error.cause = f"unexpected typeId {tid!r}; expected {TYPE_IDS[name]!r}"
        raise error


def _retention(value, field: str, err) -> int:
    try:
        n = as_int(value, -1)
    except CoercionError:
        raise err(f"{field} must be a number, got {value!r}") from None
    if n != -1 and n < 60:
        raise err(f"{field} must be -1 (no expiry) or at least 60 minutes, got {n}")
    return n


# --- snapshots -----------------------------------------------------------------------------

def take_snapshot(app, vm: dict, description: str, consistency: str, stype: str, retention: int,
                  replica_retention: int = -1, creator: str = "", policy: str = "DELETE_ON_EXPIRATION") -> dict:
    sid = app.next_id("SST")
    now = now_ms()
    disks = []
    for d in vm["disks"]:
        base = d["file"].rsplit("/", 1)[-1]
        store = f"{sid}/{base}"
        files.copy_file(app.vm_path(d["file"]), app.snapshot_dir / store)
        disks.append({"name": d["name"], "path": d["file"], "size": d["size"], "store": store})
    config = ""
    if vm.get("configFile") and app.vm_path(vm["configFile"]).exists():
        config = vm["configFile"].rsplit("/", 1)[-1]
        files.copy_file(app.vm_path(vm["configFile"]), app.snapshot_dir / sid / config)
    s = {
        "id": sid, "vmId": vm["id"], "vmName": vm["name"], "description": description,
        "createTime": now, "expirationTime": now + retention * 60_000 if retention > 0 else -1,
        "retentionMinutes": retention, "replicaRetentionMinutes": replica_retention,
        "consistency": consistency, "type": stype, "deleted": False, "disks": disks,
        "hypervisorType": vm["hypervisorType"], "creatorName": creator, "deletionPolicy": policy,
        "config": config,
    }
    app.add_snapshot(s)
    return s


def create_snapshots(app, body, user: str) -> list[str]:
    def err(cause):
        return ApiError(400, "ERR-API-3105", "Invalid create snapshot request.", cause)

    specs = body if isinstance(body, list) else [body]
    if not specs or any(not isinstance(s, dict) for s in specs):
        raise err("the body must be a list of SnapshotSpec objects")
    plans = []
    per_vm: dict[str, int] = {}
    for spec in specs:
        check_type(spec, "SnapshotSpec", err(""))
        vm_id = as_str(spec.get("sourceVmTintriUUID"))
        if not vm_id:
            raise err("sourceVmTintriUUID is required")
        vm = app.vm_or_404(vm_id)
        if not vm["live"]:
            raise err(f"VM '{vm['name']}' ({vm_id}) is not live")
        consistency = (as_str(spec.get("consistency")) or "CRASH_CONSISTENT").upper()
        if consistency not in CONSISTENCIES:
            raise err(f"unknown consistency {consistency!r}")
        retention = _retention(spec.get("retentionMinutes"), "retentionMinutes", err)
        replica = _retention(spec.get("replicaRetentionMinutes"), "replicaRetentionMinutes", err)
        per_vm[vm_id] = per_vm.get(vm_id, len(app.snapshots_of(vm_id))) + 1
        if per_vm[vm_id] > MAX_SNAPSHOTS_PER_VM:
            raise err(f"VM '{vm['name']}' would exceed the maximum of {MAX_SNAPSHOTS_PER_VM} snapshots")
        name = as_str(spec.get("snapshotName")) or ""
        plans.append((vm, name, consistency, retention, replica))
    ids = []
    for vm, name, consistency, retention, replica in plans:
        s = take_snapshot(app, vm, name, consistency, "USER_GENERATED_SNAPSHOT", retention, replica, user)
        ids.append(s["id"])
    app.changed()
    return ids


def snapshot_filter(app, query, require_vm: bool = False):
    """SnapshotFilterSpec -> (matching snapshots, absoluteTotal, total)."""
    from .query import bad_param, tri_match

    vm_ids = query.getlist("vmUuid")
    if require_vm and not vm_ids:
        raise bad_param("vmUuid", None)
    types = {t.upper() for t in query.getlist("type")}
    cons = {c.upper() for c in query.getlist("consistency")}
    contain = (query.get("contain") or "").lower()
    deleted = query.tri("deleted", "FALSE")
    uuids = set(query.getlist("uuid"))
    has_clone = {x.upper() for x in query.getlist("hasClone")}
    orphaned = {x.upper() for x in query.getlist("orphaned")}
    since = query.int("fromDate") if (query.get("fromDate") or "").isdigit() else None
    until = query.int("toDate") if (query.get("toDate") or "").isdigit() else None
    pool = [s for vid in vm_ids for s in app.snapshots_of(vid, True)] if vm_ids else list(app.snapshots.values())
    out = []
    for s in pool:
        if not tri_match(s.get("deleted"), deleted):
            continue
        if types and s["type"] not in types:
            continue
        if cons and s["consistency"] not in cons:
            continue
        if uuids and s["id"] not in uuids:
            continue
        if contain and contain not in s["description"].lower() and contain not in s["vmName"].lower():
            continue
        if has_clone and "BOTH" not in has_clone:
            refs = app.clone_reference_count(s["id"]) > 0
            if ("YES" in has_clone) != refs and ("NO" in has_clone) == refs:
                continue
        if orphaned and "BOTH" not in orphaned and ("YES" in orphaned) != app.snapshot_orphaned(s):
            continue
        if since is not None and s["createTime"] < since:
            continue
        if until is not None and s["createTime"] > until:
            continue
        out.append(s)
    out.sort(key=lambda s: (s["createTime"], s["id"]))
    total = sum(1 for s in app.snapshots.values() if not s.get("deleted"))
    return out, len(app.snapshots), total


def delete_snapshot(app, sid: str) -> str:
    s = app.snapshots.get(sid)
    if s is None or s.get("deleted"):
        raise not_found("Snapshot", sid)
    refs = app.clone_reference_count(sid)
    if refs or s.get("busy"):
        why = f"it has {refs} clone reference(s)" if refs else "it is in use by a running task"
        raise ApiError(500, "ERR-API-3107", "Delete snapshot failed.",
                       f"Snapshot '{s['description']}' ({sid}) cannot be deleted: {why}")
    app.mark_snapshot_deleted(s)
    app.changed()
    return f"Snapshot {sid} deleted"


# --- clone / restore -----------------------------------------------------------------------

def _clone_err(cause: str) -> ApiError:
    return ApiError(400, "ERR-API-3205", "Invalid clone request.", cause)


def _valid_directory(name) -> str:
    d = as_str(name)
    if not d or not d.strip():
        raise _clone_err("restoreInfo.directoryName is required")
    d = d.strip()
    if d.startswith(("/", "\\")) or "\\" in d or ":" in d:
        raise _clone_err(f"restoreInfo.directoryName must be a relative path under /tintri, got {d!r}")
    parts = d.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise _clone_err(f"restoreInfo.directoryName must not contain '.', '..' or empty components: {d!r}")
    return posixpath.normpath(d)


def _managers(app) -> set[str]:
    names = {m for m in app.cfg.get("hypervisorManagers", [])}
    names.update(v.get("vcenterName") for v in app.vms.values() if v.get("vcenterName"))
    return names


def _unique_dir(app, wanted: str, reserved: set[str]) -> str:
    sub, n = wanted, 1
    while sub in reserved or app.vm_path(sub).exists() or any(v["live"] and v.get("subdir") == sub for v in app.vms.values()):
        n += 1
        sub = f"{wanted}_{n}"
    reserved.add(sub)
    return sub


def _busy_snapshot(app, sid: str, delta: int) -> None:
    s = app.snapshots.get(sid)
    if s is not None:
        s["busy"] = max(0, s.get("busy", 0) + delta)


def submit_clone(lab, app, spec, user: str) -> dict:
    if not isinstance(spec, dict):
        raise _clone_err("the body must be a VirtualMachineCloneSpec object")
    check_type(spec, "VirtualMachineCloneSpec", _clone_err(""))
    try:
        count = as_int(spec.get("count"), 1)
        vm_id = as_str(spec.get("vmId"))
        snap_id = as_str(spec.get("snapshotId"))
        consistency = (as_str(spec.get("consistency")) or "CRASH_CONSISTENT").upper()
    except CoercionError as exc:
        raise _clone_err(str(exc)) from None
    if consistency not in CONSISTENCIES:
        raise _clone_err(f"unknown consistency {consistency!r}")
    if count is None or not 1 <= count <= 500:
        raise _clone_err(f"count must be between 1 and 500, got {count}")
    if spec.get("remoteCopyInfo"):
        raise _clone_err("remote copy (remoteCopyInfo) is not supported by this simulator")
    restore = spec.get("restoreInfo") or None
    blocks = [(k, spec[k]) for k in ("vmware", "hyperv", "rhev", "xenServer", "generic", "otherDb") if spec.get(k)]
    if not vm_id and not snap_id:
        raise _clone_err("vmId or snapshotId is required")
    if restore is None and not blocks:
        raise _clone_err("one hypervisor block (vmware, hyperv, ...) or restoreInfo is required")
    if len(blocks) > 1:
        raise _clone_err("only one hypervisor block may be set")
    missing = ApiError(404, "ERR-API-3214", "Resource not found for clone request.")
    src_vm = None
    if snap_id:
        snap = app.snapshots.get(snap_id)
        if snap is None or snap.get("deleted"):
            missing.cause = f"snapshot '{snap_id}' not found"
            raise missing
        src_vm = app.vm(snap["vmId"])
    else:
        snap = None
        src_vm = app.vm(vm_id)
        if src_vm is None or not src_vm["live"]:
            missing.cause = f"VM '{vm_id}' not found or not live"
            raise missing
    reserved: set[str] = set()
    clones = []
    if restore is not None:
        if not isinstance(restore, dict):
            raise _clone_err("restoreInfo must be an object")
        if not snap_id:
            raise _clone_err("restoreInfo requires snapshotId")
        if count != 1:
            raise _clone_err("restoreInfo requires count 1")
        directory = _valid_directory(restore.get("directoryName"))
        if app.vm_path(directory).exists() or any(v["live"] and v.get("subdir") == directory for v in app.vms.values()):
            raise _clone_err(f"destination directory '{directory}' already exists")
        retain = as_bool(restore.get("retainTintriUuid"), False)
        keep_id = None
        if retain:
            old = app.vm(snap["vmId"])
            if old is not None and old["live"]:
                raise _clone_err(f"retainTintriUuid: VM {snap['vmId']} is still live")
            keep_id = snap["vmId"]
        reserved.add(directory)
        clones.append({"name": snap["vmName"], "dir": directory, "manager": "", "vmId": keep_id, "restore": True})
    else:
        kind, block = blocks[0]
        if not isinstance(block, dict):
            raise _clone_err(f"{kind} must be an object")
        name = as_str(block.get("cloneVmName")) or as_str(spec.get("simpleCloneVmName"))
        if not name:
            raise _clone_err(f"{kind}.cloneVmName is required")
        manager = as_str(block.get({"vmware": "vCenterName", "hyperv": "hyperVName", "rhev": "rhevmName",
                                    "xenServer": "xenServerName"}.get(kind, "")), "") or ""
        if manager and manager not in _managers(app):
            manager = ""  # unknown manager: created on storage, not added to inventory
        datastore = as_str(block.get("datastoreName"))
        names = [name] if count == 1 else [f"{name}-{i}" for i in range(1, count + 1)]
        for n in names:
            clones.append({"name": n, "dir": _unique_dir(app, safe_dir_name(n), reserved), "manager": manager,
                           "datastore": datastore if datastore and datastore != "default" else None})
    if snap is None:
        snap = take_snapshot(app, src_vm, f"cloning snapshot of {src_vm['name']}", consistency,
                             "AUTO_GENERATED_CLONING_SNAPSHOT", -1, -1, user, "DELETE_ON_ZERO_CLONE_REFERENCES")
    _busy_snapshot(app, snap["id"], +1)
    plan = []
    n_steps = sum(len(snap["disks"]) for _ in clones) or 1
    i = 0
    for c in clones:
        for d in snap["disks"]:
            i += 1
            plan.append({"op": "clone_copy", "at": 0.2 + 0.7 * (i - 0.5) / n_steps, "snap": snap["id"], "disk": d["name"], "dir": c["dir"]})
        plan.append({"op": "clone_register", "at": 0.95, "snap": snap["id"], "clone": c})
    plan.append({"op": "clone_cleanup", "final": True, "snap": snap["id"], "dirs": [c["dir"] for c in clones]})
    target = src_vm["id"] if src_vm else snap["vmId"]
    return lab.engine.new_task(app, "CLONE", [target], plan, user,
                               f"Cloning {snap['vmName']} ({len(clones)} clone(s))")


# --- SyncVM --------------------------------------------------------------------------------

def submit_sync(lab, app, spec, user: str) -> dict:
    if not app.cfg["licenses"].get("syncvm", True):
        raise ApiError(403, "ERR-API-3701", "Failed SyncVM",
                       f"SyncVM license is missing on '{app.hostname}'. Please add a SyncVM license to this VMstore.",
                       "Forbidden")
    if not isinstance(spec, dict):
        raise invalid_input("the body must be a VirtualMachineSyncSpec object")
    check_type(spec, "VirtualMachineSyncSpec", invalid_input(""))
    try:
        stype = (as_str(spec.get("type")) or "").upper()
        targets = as_str_list(spec.get("targetVmTintriUuids"))
        snap_id = as_str(spec.get("snapshotTintriUuid"))
        sources = as_str_list(spec.get("sourceDisks"))
        dests = as_str_list(spec.get("destDisks"))
        skip_reboot = as_bool(spec.get("isSkipReboot"), False)
        is_async = as_bool(spec.get("async", spec.get("isAsync")), True)
        tss = spec.get("takeSnapshotSpec") or {}
        if not isinstance(tss, dict):
            raise CoercionError("takeSnapshotSpec must be an object")
        take = as_bool(tss.get("takeSnapshot"), True)
    except CoercionError as exc:
        raise invalid_input(str(exc)) from None
    if stype == "FILE_RESTORE":
        raise ApiError(400, "ERR-API-0005", "Request not supported.",
                       "SyncVM type FILE_RESTORE is not supported by this simulator")
    if stype not in ("VDISK", "FULL_VM"):
        raise invalid_input(f"type must be VDISK, FULL_VM or FILE_RESTORE, got {stype!r}")
    if not targets:
        raise invalid_input("targetVmTintriUuids must name at least one VM")
    if not snap_id:
        raise invalid_input("snapshotTintriUuid is required")
    retention = _retention(tss.get("localRetentionTimeInMinutes", 1440),
                           "takeSnapshotSpec.localRetentionTimeInMinutes", invalid_input)
    snap = app.snapshots.get(snap_id)
    if snap is None or snap.get("deleted"):
        raise not_found("Snapshot", snap_id)
    snap_disks = {d["name"] for d in snap["disks"]}
    target_vms = []
    for t in dict.fromkeys(targets):
        vm = app.vm_or_404(t)
        if not vm["live"]:
            raise invalid_input(f"target VM '{vm['name']}' ({t}) is not live")
        target_vms.append(vm)
    if stype == "VDISK":
        if not sources or not dests:
            raise invalid_input("VDISK sync needs sourceDisks and destDisks")
        if len(sources) != len(dests):
            raise invalid_input(f"sourceDisks ({len(sources)}) and destDisks ({len(dests)}) must have the same length")
        unknown = [s for s in sources if s not in snap_disks]
        if unknown:
            raise invalid_input(f"sourceDisks {unknown} are not disks of snapshot {snap_id} "
                                f"(it has {sorted(snap_disks)})")
        if len(set(dests)) != len(dests):
            raise invalid_input("destDisks must not repeat a disk")
        for vm in target_vms:
            have = {d["name"] for d in vm["disks"]}
            missing = [d for d in dests if d not in have]
            if missing:
                raise invalid_input(f"destDisks {missing} are not disks of VM '{vm['name']}' (it has {sorted(have)})")
        pairs = list(zip(sources, dests, strict=True))
    else:
        pairs = [(d["name"], d["name"]) for d in snap["disks"]]
    busy = {tid for t in app.state["tasks"].values() if t["type"] == "SYNC_VM" and t["state"] in ("QUEUED", "RUNNING")
            for tid in t["targetIds"]}
    clash = [vm["name"] for vm in target_vms if vm["id"] in busy]
    if clash:
        raise ApiError(500, "ERR-API-3701", "Failed SyncVM", f"a SyncVM operation is already running for {clash}")
    reboot = stype == "FULL_VM" or not skip_reboot
    plan = []
    copies = [(vm, s, d) for vm in target_vms for s, d in pairs]
    for vm in target_vms:
        if take:
            plan.append({"op": "safety_snapshot", "at": 0.12, "vm": vm["id"], "retention": retention})
        if reboot:
            plan.append({"op": "power_off", "at": 0.15, "vm": vm["id"]})
    for i, (vm, s, d) in enumerate(copies, 1):
        # spread over 20%..90% so a failure at 50% leaves about half the disks replaced
        plan.append({"op": "sync_disk", "at": 0.2 + 0.7 * (i - 0.5) / len(copies), "vm": vm["id"], "snap": snap_id,
                     "src": s, "dst": d})
    for vm in target_vms:
        plan.append({"op": "sync_finish", "at": 0.95, "vm": vm["id"], "snap": snap_id, "full": stype == "FULL_VM"})
    for vm in target_vms:
        plan.append({"op": "power_restore", "final": True, "vm": vm["id"]})
    plan.append({"op": "release", "final": True, "snap": snap_id})
    _busy_snapshot(app, snap_id, +1)
    task = lab.engine.new_task(app, "SYNC_VM", [vm["id"] for vm in target_vms], plan, user,
                               f"SyncVM {stype} from snapshot of {snap['vmName']}")
    if not is_async:
        lab.engine.wait(app, task["id"])
    return task


# --- task steps (lock held) ----------------------------------------------------------------

def _step_safety_snapshot(lab, app, task, step, failed):
    vm = app.vm(step["vm"])
    if vm is None or not vm["live"]:
        raise RuntimeError(f"target VM {step['vm']} disappeared")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    s = take_snapshot(app, vm, f"syncvm-safety-{vm['name']}-{stamp}", "CRASH_CONSISTENT",
                      "USER_GENERATED_SNAPSHOT", step["retention"], -1, task.get("createdBy", ""))
    task.setdefault("properties", {})[f"safetySnapshot:{vm['name']}"] = s["id"]
    task["description"] = f"Took safety snapshot of {vm['name']}"


def _step_power_off(lab, app, task, step, failed):
    vm = app.vm(step["vm"])
    if vm and vm.get("powered"):
        vm["powered"] = False
        task.setdefault("poweredOff", []).append(vm["id"])
        task["description"] = f"Powered off {vm['name']}"


def _step_power_restore(lab, app, task, step, failed):
    vm = app.vm(step["vm"])
    if vm and vm["id"] in task.get("poweredOff", []) and vm["live"]:
        vm["powered"] = True


def _step_release(lab, app, task, step, failed):
    _busy_snapshot(app, step["snap"], -1)


def _step_sync_disk(lab, app, task, step, failed):
    vm = app.vm(step["vm"])
    snap = app.snapshots.get(step["snap"])
    if vm is None or snap is None or snap.get("deleted"):
        raise RuntimeError("target VM or source snapshot no longer exists")
    src = next(d for d in snap["disks"] if d["name"] == step["src"])
    dst = next((d for d in vm["disks"] if d["name"] == step["dst"]), None)
    if dst is None:  # FULL_VM: the snapshot has a disk the target lacks
        base = src["path"].rsplit("/", 1)[-1]
        dst = {"name": src["name"], "file": f"{vm['subdir']}/{base}", "size": 0, "boot": False,
               "uuid": app.next_id("VDK"), "isDiskDrive": True, "isSynthetic": False}
        vm["disks"].append(dst)
    files.copy_file(app.snapshot_file(snap, src), app.vm_path(dst["file"]))
    dst["size"] = src["size"]
    task["description"] = f"Synced disk {dst['name']} of {vm['name']} from {src['name']}"


def _step_sync_finish(lab, app, task, step, failed):
    vm = app.vm(step["vm"])
    snap = app.snapshots.get(step["snap"])
    if vm is None or snap is None:
        raise RuntimeError("target VM or source snapshot no longer exists")
    if step.get("full"):
        keep = {d["name"] for d in snap["disks"]}
        for d in [d for d in vm["disks"] if d["name"] not in keep]:
            try:
                app.vm_path(d["file"]).unlink()
            except OSError:
                pass
        vm["disks"] = [d for d in vm["disks"] if d["name"] in keep]
    vm["cloneFromSnapshots"] = [{"snapshotId": snap["id"], "vmName": snap["vmName"],
                                 "creationTime": snap["createTime"]}] + [
        c for c in vm.get("cloneFromSnapshots", []) if c["snapshotId"] != snap["id"]][:9]
    vm["lastChanged"] = now_ms()
    app.write_vm_config(vm)


def _step_clone_copy(lab, app, task, step, failed):
    snap = app.snapshots.get(step["snap"])
    if snap is None or snap.get("deleted"):
        raise RuntimeError(f"snapshot {step['snap']} no longer exists")
    d = next(x for x in snap["disks"] if x["name"] == step["disk"])
    base = d["path"].rsplit("/", 1)[-1]
    files.copy_file(app.snapshot_file(snap, d), app.vm_path(f"{step['dir']}/{base}"))
    task["description"] = f"Copied {base} into {step['dir']}"


def _step_clone_register(lab, app, task, step, failed):
    snap = app.snapshots[step["snap"]]
    c = step["clone"]
    src = app.vm(snap["vmId"]) or {}
    hyper = snap.get("hypervisorType") or src.get("hypervisorType") or "VMWARE"
    disks = [{"name": d["name"], "file": f"{c['dir']}/{d['path'].rsplit('/', 1)[-1]}", "size": d["size"],
              "boot": next((x.get("boot") for x in src.get("disks", []) if x["name"] == d["name"]), i == 0)}
             for i, d in enumerate(snap["disks"])]
    rec = new_vm_record(
        app, c["name"], hyper, c["dir"], disks, vm_id=c.get("vmId"),
        vcenterName=c.get("manager", ""), host=src.get("host", "") if c.get("manager") else "",
        powered=False,
        storageContainers=[c["datastore"]] if c.get("datastore") else list(src.get("storageContainers") or []) or None,
    )
    for key in ("numberCpu", "memoryMB"):
        if key in src:
            rec[key] = src[key]
    rec["cloneFromSnapshots"] = [{"snapshotId": snap["id"], "vmName": snap["vmName"], "creationTime": snap["createTime"]}]
    if not c.get("restore"):
        rec["baseSnapshotId"] = snap["id"]
    app.add_vm(rec)
    app.write_vm_config(rec)
    task["targetIds"].append(rec["id"])
    task.setdefault("registered", []).append(c["dir"])
    task["description"] = f"Created {rec['name']} in {c['dir']}"


def _step_clone_cleanup(lab, app, task, step, failed):
    _busy_snapshot(app, step["snap"], -1)
    if failed:
        for d in step["dirs"]:
            if d not in task.get("registered", []):
                files.remove_tree(app.vm_path(d))


STEPS = {
    "safety_snapshot": _step_safety_snapshot,
    "power_off": _step_power_off,
    "power_restore": _step_power_restore,
    "release": _step_release,
    "sync_disk": _step_sync_disk,
    "sync_finish": _step_sync_finish,
    "clone_copy": _step_clone_copy,
    "clone_register": _step_clone_register,
    "clone_cleanup": _step_clone_cleanup,
}
