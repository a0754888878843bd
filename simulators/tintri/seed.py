"""Lab descriptions (YAML/JSON) -> normalized appliance configs, and first-start seeding of state.

The description only seeds a fresh state directory; a restarted lab keeps its own state and
takes only configuration (credentials, licences, versions, start-time faults) from it.
"""

from __future__ import annotations

import json
import uuid as _uuid
from pathlib import Path

import yaml

from . import files
from .util import fs_uuid, now_ms, parse_duration, parse_size, safe_dir_name, stable_hash

DEFAULT_DESCRIPTION = Path(__file__).resolve().parent.parent / "labs" / "default.yml"
DEFAULT_VERSION = "v310.191"
SUPPORTED_VERSIONS = [
    "v310.1", "v310.11", "v310.21", "v310.31", "v310.41", "v310.51", "v310.53", "v310.61",
    "v310.64", "v310.66", "v310.71", "v310.81", "v310.91", "v310.93", "v310.101", "v310.111",
    "v310.121", "v310.131", "v310.141", "v310.151", "v310.161", "v310.171", "v310.181",
    "v310.183", "v310.191",
]
HYPERVISORS = {"VMWARE", "RHEV", "HYPERV", "UNKNOWN", "OPENSTACK", "XENSERVER", "VMWARE_VVOL",
               "GENERIC", "OTHERFILE", "K8S", "OTHERFILE_CSI"}
SNAPSHOT_TYPES = {"SCHEDULED_SNAPSHOT", "USER_GENERATED_SNAPSHOT", "AUTO_GENERATED_CLONING_SNAPSHOT",
                  "VAAI_GENERATED_SNAPSHOT", "ODX_GENERATED_SNAPSHOT", "CINDER_GENERATED_SNAPSHOT",
                  "SCHEDULED_HIGH_FREQUENCY_SNAPSHOT", "HYPERV_SHARE_SNAPSHOT", "SYNCREPL_RESYNC_SNAPSHOT"}
CONSISTENCIES = {"CRASH_CONSISTENT", "VM_CONSISTENT", "APP_CONSISTENT"}


class DescriptionError(ValueError):
    pass


def load_description(description) -> dict:
    if description is None:
        description = DEFAULT_DESCRIPTION
    if isinstance(description, dict):
        return json.loads(json.dumps(description))  # private deep copy
    path = Path(description)
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise DescriptionError(f"{path}: a lab description must be a mapping")
    return data


# --- configuration -------------------------------------------------------------------------

def _users(name: str, spec: dict) -> list[dict]:
    creds = spec.get("credentials") or {}
    users = [{
        "username": str(creds.get("username", "admin")),
        "password": str(creds.get("password", "tintri-lab")),
        "role": str(creds.get("role", "ADMIN")),
    }]
    ro = creds.get("readonly")
    if ro:
        users.append({"username": str(ro["username"]), "password": str(ro["password"]),
                      "role": str(ro.get("role", "READ_ONLY"))})
    for extra in creds.get("users") or []:
        users.append({"username": str(extra["username"]), "password": str(extra["password"]),
                      "role": str(extra.get("role", "ADMIN"))})
    return users


def appliance_configs(desc: dict) -> dict[str, dict]:
    """name -> normalized configuration (what every start takes from the description)."""
    out: dict[str, dict] = {}
    vmstores = desc.get("vmstores") or {}
    tgcs = desc.get("tgcs") or {}
    if not isinstance(vmstores, dict) or not isinstance(tgcs, dict):
        raise DescriptionError("'vmstores' and 'tgcs' must be mappings of name -> appliance")
    for personality, group in (("vmstore", vmstores), ("tgc", tgcs)):
        for name, spec in group.items():
            spec = spec or {}
            if name in out:
                raise DescriptionError(f"duplicate appliance name {name!r}")
            api = spec.get("api") or {}
            info = spec.get("info") or {}
            serial = str(info.get("serialNumber", f"TT{stable_hash(name) % 10**8:08d}"))
            is_tgc = personality == "tgc"
            cfg = {
                "personality": personality,
                "fsUuid": str(spec.get("fs_uuid") or fs_uuid(f"{name}:{serial}")),
                "users": _users(name, spec),
                "api": {
                    "preferredVersion": str(api.get("preferredVersion", DEFAULT_VERSION)),
                    "supportedVersionSet": list(api.get("supportedVersionSet", SUPPORTED_VERSIONS)),
                },
                "info": {
                    "serialNumber": serial,
                    "modelName": str(info.get("modelName", "TGC" if is_tgc else "T7080")),
                    "osVersion": str(info.get("osVersion", "5.6.0.1-12345.67890")),
                    "isAllFlash": bool(info.get("isAllFlash", True)),
                    "currentCapacityGiB": float(info.get("currentCapacityGiB", spec.get("capacity_gib", 10240))),
                },
                "licenses": {"syncvm": bool((spec.get("licenses") or {}).get("syncvm", True))},
                "capacityGiB": float(spec.get("capacity_gib", 10240)),
                "storageContainer": str(spec.get("storage_container", f"tintri-{name}")),
                "faults": list(spec.get("faults") or []),
                "members": list(spec.get("members") or []) if is_tgc else [],
            }
            if not cfg["info"]["osVersion"].count("-"):
                raise DescriptionError(f"{name}: info.osVersion must contain a hyphen (e.g. 5.6.0.1-12345.67890)")
            out[name] = cfg
    for name, cfg in out.items():
        for m in cfg["members"]:
            if m not in vmstores:
                raise DescriptionError(f"{name}: member {m!r} is not a VMstore of this lab")
    if not out:
        raise DescriptionError("a lab needs at least one appliance")
    return out


# --- VM records ----------------------------------------------------------------------------

def default_disk_name(hyper: str, index: int) -> str:
    return f"SCSI 0:{index}" if hyper == "HYPERV" else f"scsi0:{index}"


def disk_file_name(vm_name: str, hyper: str, index: int) -> str:
    base = files.config_name(vm_name, hyper).rsplit(".", 1)[0]
    if hyper == "HYPERV":
        return f"{base}_disk{index}.vhdx"
    return f"{base}.vmdk" if index == 0 else f"{base}_{index}.vmdk"


def new_vm_record(app, name: str, hyper: str, subdir: str, disks: list[dict], **kw) -> dict:
    """A VM record; ``disks`` items need name, file (relative to the export), size, boot."""
    vid = kw.pop("vm_id", None) or app.next_id("VIM")
    now = now_ms()
    h = stable_hash(app.name, vid)
    rec = {
        "id": vid,
        "name": name,
        "hypervisorType": hyper,
        "vcenterName": kw.pop("vcenterName", ""),
        "host": kw.pop("host", ""),
        "powered": bool(kw.pop("powered", False)),
        "storageContainers": kw.pop("storageContainers", None) or [app.cfg["storageContainer"]],
        "subdir": subdir,
        "configFile": kw.pop("configFile", None) or (f"{subdir}/{files.config_name(name, hyper)}" if subdir else ""),
        "disks": [
            {
                "name": d["name"], "file": d["file"], "size": int(d["size"]), "boot": bool(d.get("boot")),
                "uuid": d.get("uuid") or app.next_id("VDK"),
                "isDiskDrive": d.get("isDiskDrive", True), "isSynthetic": d.get("isSynthetic", False),
            }
            for d in disks
        ],
        "live": True,
        "deleted": False,
        "created": now,
        "lastChanged": now,
        "cloneFromSnapshots": [],
        "numberCpu": 2,
        "memoryMB": 4096,
        "instanceUuid": str(_uuid.UUID(int=h << 64 | stable_hash(vid, "i"))),
        "biosUuid": str(_uuid.UUID(int=stable_hash(vid, "b") << 64 | h)),
        "mor": f"vm-{h % 100000}" if hyper == "VMWARE" else "",
    }
    rec.update(kw)
    return rec


def _disk_specs(name: str, hyper: str, spec, defaults: dict) -> list[dict]:
    raw = spec.get("disks")
    if raw is None or isinstance(raw, int):
        n = raw if isinstance(raw, int) else 2
        raw = [{} for _ in range(n)]
    out = []
    for i, d in enumerate(raw):
        d = d or {}
        size = parse_size(d.get("size", spec.get("disk_size", defaults.get("disk_size", "2MiB"))))
        out.append({
            "name": str(d.get("name", default_disk_name(hyper, i))),
            "fileName": d.get("file") or disk_file_name(name, hyper, i),
            "size": size,
            "boot": bool(d.get("boot", i == 0)),
        })
    return out


def _unique_subdir(app, wanted: str, taken: set[str]) -> str:
    sub = wanted
    n = 1
    while sub in taken or (app.datastore_dir / sub).exists():
        n += 1
        sub = f"{wanted}_{n}"
    taken.add(sub)
    return sub


def seed_vm(app, spec: dict, defaults: dict, taken: set[str], sparse: bool = False) -> dict:
    name = str(spec["name"])
    hyper = str(spec.get("hypervisor", spec.get("hypervisorType", "VMWARE"))).upper()
    if hyper not in HYPERVISORS:
        raise DescriptionError(f"VM {name}: unknown hypervisor {hyper!r}")
    live = bool(spec.get("live", True))
    deleted = bool(spec.get("deleted", not live))
    disks = _disk_specs(name, hyper, spec, defaults)
    snaps = sorted(spec.get("snapshots") or [], key=lambda s: -parse_duration(s.get("age", "1d")))
    subdir = _unique_subdir(app, str(spec.get("subdir") or safe_dir_name(name)), taken) if live else ""
    hist_dir = str(spec.get("subdir") or safe_dir_name(name))
    rec = new_vm_record(
        app, name, hyper, subdir,
        [{"name": d["name"], "file": f"{subdir or hist_dir}/{d['fileName']}", "size": d["size"], "boot": d["boot"]}
         for d in disks],
        vcenterName=str(spec.get("manager", spec.get("vcenterName", "")) or ""),
        host=str(spec.get("host", "") or ""),
        powered=bool(spec.get("powered", live)) and live,
        storageContainers=[str(s) for s in spec.get("storage_containers") or []] or None,
        configFile=None if live else "",
    )
    rec["live"] = live
    rec["deleted"] = deleted
    if not live:
        rec["timeDeleted"] = now_ms() - int(parse_duration(spec.get("deleted_age", "7d")) * 1000)
    for key, src in (("numberCpu", "cpus"), ("memoryMB", "memory_mb")):
        if src in spec:
            rec[key] = int(spec[src])
    if spec.get("replicated"):
        rec["replicated"] = True
    if spec.get("template"):
        rec["template"] = True
    if spec.get("service_group"):
        sg = spec["service_group"]
        rec["serviceGroup"] = {"id": str(sg.get("id", f"SG-{safe_dir_name(sg['name'])}")), "name": str(sg["name"])}
    if spec.get("qos"):
        rec["qos"] = {k: int(v) for k, v in spec["qos"].items()}
    if spec.get("stats"):
        st = spec["stats"]
        rec["perf"] = {k2: float(st[k1]) for k1, k2 in (("iops", "iops"), ("latency_ms", "latencyMs"),
                                                         ("flash_hit_percent", "flashHitPercent"),
                                                         ("space_used_gib", "spaceUsedGiB")) if k1 in st}
    if "provisioned_gib" in spec:
        rec["provisionedGiB"] = float(spec["provisioned_gib"])
    app.add_vm(rec)
    gen_seed = f"{app.name}/{name}/{rec['id']}"
    if live:
        for d in rec["disks"]:
            files.write_disk(app.vm_path(d["file"]), d["size"], f"{gen_seed}/{d['name']}/live", sparse)
        app.write_vm_config(rec)
    for i, sspec in enumerate(snaps):
        seed_snapshot(app, rec, sspec, f"{gen_seed}/gen{i}", sparse)
    return rec


def seed_snapshot(app, rec: dict, spec: dict, content_seed: str, sparse: bool) -> dict:
    age = parse_duration(spec.get("age", "1d"))
    created = now_ms() - int(age * 1000)
    stype = str(spec.get("type", "SCHEDULED_SNAPSHOT")).upper()
    consistency = str(spec.get("consistency", "CRASH_CONSISTENT")).upper()
    if stype not in SNAPSHOT_TYPES or consistency not in CONSISTENCIES:
        raise DescriptionError(f"snapshot of {rec['name']}: bad type/consistency")
    retention = int(spec.get("retention_minutes", -1))
    sid = app.next_id("SST")
    disks = []
    for d in rec["disks"]:
        base = d["file"].rsplit("/", 1)[-1]
        store = f"{sid}/{base}"
        files.write_disk(app.snapshot_dir / store, d["size"], f"{content_seed}/{d['name']}", sparse)
        disks.append({"name": d["name"], "path": d["file"], "size": d["size"], "store": store})
    if rec.get("configFile"):
        files.write_text_atomic(app.snapshot_dir / sid / rec["configFile"].rsplit("/", 1)[-1], files.render_config(rec))
    s = {
        "id": sid, "vmId": rec["id"], "vmName": rec["name"],
        "description": str(spec.get("name", f"{rec['name']}-{stype.lower()}")),
        "createTime": created,
        "expirationTime": created + retention * 60_000 if retention > 0 else -1,
        "retentionMinutes": retention,
        "consistency": consistency, "type": stype,
        "deleted": False, "disks": disks, "hypervisorType": rec["hypervisorType"],
        "creatorName": "system" if stype.startswith("SCHEDULED") else "admin",
        "config": rec["configFile"].rsplit("/", 1)[-1] if rec.get("configFile") else "",
    }
    app.add_snapshot(s)
    return s


def seed_vmstore(app, spec: dict, defaults: dict) -> None:
    app.datastore_dir.mkdir(parents=True, exist_ok=True)
    app.snapshot_dir.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    for vm in spec.get("vms") or []:
        seed_vm(app, vm, defaults, taken)
    for gen in spec.get("generate") or []:
        count = int(gen.get("count", 0))
        pattern = str(gen.get("name", "gen-vm-{i:05d}"))
        sparse = bool(gen.get("sparse", True))
        base = {k: v for k, v in gen.items() if k not in ("count", "name", "sparse")}
        base.setdefault("disk_size", "64KiB")
        base.setdefault("disks", 2)
        for i in range(1, count + 1):
            seed_vm(app, dict(base, name=pattern.format(i=i)), defaults, taken, sparse=sparse)


def seed_tgc(app, spec: dict, lab) -> None:
    from .recommendations import seed_pool  # pools reference VMstores by name

    for pool in spec.get("pools") or []:
        seed_pool(app, pool, lab)
