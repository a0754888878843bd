"""Appliance state: VMs, snapshots, tasks, pools and recommendations, persisted as JSON.

One ``Appliance`` per simulated VMstore or TGC. All mutation happens under the lab-wide lock
(``lab.lock``); every change is written atomically (temp file + rename) to
``<state_dir>/state/<name>.json`` so a restarted lab comes back as it was.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from pathlib import Path

from . import files
from .errors import not_found
from .util import now_ms, tintri_id

STATE_VERSION = 1


class Sessions:
    """JSESSIONID -> session; idle timeout measured from the last authenticated access."""

    def __init__(self, idle_seconds: float):
        self.idle_seconds = idle_seconds
        self._by_token: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._seq = 0

    def create(self, user: dict, client_ip: str, api_version: str | None) -> tuple[str, dict]:
        token = secrets.token_hex(16).upper()
        with self._lock:
            self._seq += 1
            now = time.time()
            s = {
                "id": f"SESSION-{self._seq:08d}",
                "userName": user["username"],
                "role": user["role"],
                "clientIp": client_ip,
                "loginTime": now,
                "lastAccess": now,
                "apiVersion": api_version or "v310.1",
            }
            self._by_token[token] = s
        return token, s

    def lookup(self, token: str | None) -> dict | None:
        if not token:
            return None
        with self._lock:
            s = self._by_token.get(token)
            if s is None:
                return None
            now = time.time()
            if now - s["lastAccess"] > self.idle_seconds:
                del self._by_token[token]
                return None
            s["lastAccess"] = now
            return s

    def drop(self, token: str | None) -> bool:
        with self._lock:
            return self._by_token.pop(token, None) is not None if token else False

    def expire_all(self) -> int:
        with self._lock:
            n = len(self._by_token)
            self._by_token.clear()
            return n

    def active(self) -> list[dict]:
        now = time.time()
        with self._lock:
            return [dict(s) for s in self._by_token.values() if now - s["lastAccess"] <= self.idle_seconds]


class Appliance:
    def __init__(self, lab, name: str, cfg: dict, state_dir: Path):
        self.lab = lab
        self.name = name
        self.cfg = cfg
        self.personality = cfg["personality"]
        self.fs = cfg["fsUuid"]
        self.state_path = state_dir / "state" / f"{name}.json"
        self.datastore_dir = (state_dir / "datastores" / name).resolve()
        self.snapshot_dir = (state_dir / "snapshots" / name).resolve()
        self.sessions = Sessions(lab.session_idle_seconds)
        self.hostname: str | None = None
        self.port: int | None = None
        self.state: dict = {"version": STATE_VERSION, "counters": {}, "vms": {}, "snapshots": {},
                            "tasks": {}, "pools": {}, "recommendations": {}}
        self._snaps_by_vm: dict[str, list[str]] = {}
        self._refs: dict[str, int] | None = None
        self._dir_index: dict[str, str] | None = None
        self._pending_dirs: set[str] = set()
        self._root_mtime = None

    # --- identity ----------------------------------------------------------------------------
    @property
    def is_tgc(self) -> bool:
        return self.personality == "tgc"

    @property
    def datastore_uuid(self) -> str:
        return tintri_id(self.fs, "DST", 1)

    @property
    def vmstore_uuid(self) -> str:
        """The id a TGC uses for this VMstore (vmstoreTintriUuid, VmStore.uuid)."""
        return tintri_id(self.fs, "TIN", 1)

    @property
    def appliance_uuid(self) -> str:
        return tintri_id(self.fs, "APL", 1)

    def next_id(self, kind: str) -> str:
        c = self.state["counters"]
        c[kind] = c.get(kind, 0) + 1
        return tintri_id(self.fs, kind, c[kind])

    # --- persistence -------------------------------------------------------------------------
    def load(self) -> bool:
        if not self.state_path.exists():
            return False
        with open(self.state_path) as fh:
            self.state = json.load(fh)
        for key in ("vms", "snapshots", "tasks", "pools", "recommendations", "counters"):
            self.state.setdefault(key, {})
        self.reindex()
        return True

    def save(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        data = json.dumps(self.state, separators=(",", ":"))  # one write: much faster than json.dump
        with open(tmp, "w") as fh:
            fh.write(data)
        os.replace(tmp, self.state_path)

    def reindex(self) -> None:
        self._snaps_by_vm = {}
        for sid, s in self.state["snapshots"].items():
            self._snaps_by_vm.setdefault(s["vmId"], []).append(sid)
        self._refs = None
        self._dir_index = None

    def changed(self) -> None:
        """Call after a mutation (lock held): refresh derived indexes and persist."""
        self._refs = None
        self._dir_index = None
        self.save()

    # --- VMs ---------------------------------------------------------------------------------
    @property
    def vms(self) -> dict:
        return self.state["vms"]

    def vm(self, vm_id: str) -> dict | None:
        return self.state["vms"].get(vm_id)

    def vm_or_404(self, vm_id: str) -> dict:
        rec = self.vm(vm_id)
        if rec is None:
            raise not_found("VirtualMachine", vm_id)
        return rec

    def add_vm(self, rec: dict) -> None:
        self.state["vms"][rec["id"]] = rec
        self._refs = None
        self._dir_index = None

    def vm_path(self, rel: str) -> Path:
        return self.datastore_dir / rel

    def write_vm_config(self, rec: dict) -> None:
        if rec.get("configFile"):
            files.write_text_atomic(self.vm_path(rec["configFile"]), files.render_config(rec))

    # --- snapshots ---------------------------------------------------------------------------
    @property
    def snapshots(self) -> dict:
        return self.state["snapshots"]

    def add_snapshot(self, s: dict) -> None:
        self.state["snapshots"][s["id"]] = s
        self._snaps_by_vm.setdefault(s["vmId"], []).append(s["id"])

    def snapshots_of(self, vm_id: str, include_deleted: bool = False) -> list[dict]:
        out = []
        for sid in self._snaps_by_vm.get(vm_id, ()):
            s = self.state["snapshots"].get(sid)
            if s is not None and (include_deleted or not s.get("deleted")):
                out.append(s)
        return out

    def latest_snapshot(self, vm_id: str) -> dict | None:
        best = None
        for s in self.snapshots_of(vm_id):
            if best is None or s["createTime"] >= best["createTime"]:
                best = s
        return best

    def snapshot_bytes(self, vm_id: str) -> int:
        return sum(d["size"] for s in self.snapshots_of(vm_id) for d in s["disks"])

    def snapshot_file(self, s: dict, disk: dict) -> Path:
        return self.snapshot_dir / disk["store"]

    def _ref_index(self) -> dict[str, int]:
        if self._refs is None:
            refs: dict[str, int] = {}
            for rec in self.state["vms"].values():
                base = rec.get("baseSnapshotId")
                if base and rec["live"]:
                    refs[base] = refs.get(base, 0) + 1
            self._refs = refs
        return self._refs

    def clone_reference_count(self, snap_id: str) -> int:
        return self._ref_index().get(snap_id, 0)

    def snapshot_orphaned(self, snap: dict) -> bool:
        """A snapshot whose VM is gone (deleted, no longer live) is orphaned [DOC field, INF meaning]."""
        vm = self.vm(snap["vmId"])
        return vm is None or not vm.get("live") or bool(vm.get("deleted"))

    def snapshot_ids_with_clone(self, vm_id: str) -> list[str]:
        refs = self._ref_index()
        if not refs:
            return []
        return [s["id"] for s in self.snapshots_of(vm_id) if refs.get(s["id"])]

    def delete_snapshot_files(self, s: dict) -> None:
        files.remove_tree(self.snapshot_dir / s["id"])

    def mark_snapshot_deleted(self, s: dict) -> None:
        s["deleted"] = True
        s["timeDeleted"] = now_ms()
        self.delete_snapshot_files(s)

    # --- datastore discovery -----------------------------------------------------------------
    def _dirs(self) -> dict[str, str]:
        """subdir -> VM id for live VMs that own a directory in the export."""
        if self._dir_index is None:
            self._dir_index = {
                rec["subdir"]: vid for vid, rec in self.state["vms"].items()
                if rec["live"] and rec.get("subdir")
            }
        return self._dir_index

    def discover(self) -> bool:
        """Sync the model with the export: register new VM directories, retire vanished ones.

        A directory holding a .vmx/.vmcx configuration that no live VM owns (for example files
        copied back by an external data mover) becomes an unregistered VM; a live VM whose
        directory was removed becomes a historical (deleted) VM.
        """
        if self.is_tgc or not self.datastore_dir.is_dir():
            return False
        known = self._dirs()
        changed = False
        top: set[str] = set()
        candidates: list[str] = []
        try:
            with os.scandir(self.datastore_dir) as it:
                for entry in it:
                    if entry.is_dir() and not entry.name.startswith("."):
                        top.add(entry.name)
                        if entry.name not in known:
                            candidates.append(entry.name)
        except OSError:
            return False
        nested_owned = {sub.split("/", 1)[0] for sub in known if "/" in sub}
        for sub, vid in list(known.items()):
            head = sub.split("/", 1)[0]
            gone = head not in top if "/" not in sub else not (self.datastore_dir / sub).is_dir()
            if gone:
                rec = self.state["vms"][vid]
                rec["live"] = False
                rec["deleted"] = True
                rec["powered"] = False
                rec["timeDeleted"] = now_ms()
                changed = True
        for name in sorted(candidates):
            if name in nested_owned:
                continue
            path = self.datastore_dir / name
            if files.find_config(path):
                changed |= self._register_dir(name)
            else:
                # one level deeper, e.g. restores/<vm>/
                try:
                    subs = sorted(e.name for e in os.scandir(path) if e.is_dir())
                except OSError:
                    subs = []
                for s in subs:
                    rel = f"{name}/{s}"
                    if rel not in known and files.find_config(path / s):
                        changed |= self._register_dir(rel)
        for rec in self.state["vms"].values():
            if rec.get("discovered") and rec["live"]:
                for d in rec["disks"]:
                    try:
                        size = os.stat(self.vm_path(d["file"])).st_size
                    except OSError:
                        size = 0
                    if size != d["size"]:
                        d["size"] = size
                        changed = True
        if changed:
            self.changed()
        return changed

    def _register_dir(self, rel: str) -> bool:
        from .seed import new_vm_record  # local import: seed builds on the model

        directory = self.datastore_dir / rel
        cfg_path = files.find_config(directory)
        if cfg_path is None:
            return False
        try:
            cfg = files.parse_config(cfg_path.read_text(errors="replace"))
        except OSError:
            return False
        hyper = (cfg.get("hypervisorType") or ("HYPERV" if cfg_path.suffix == ".vmcx" else "VMWARE")).upper()
        disks = []
        for i, d in enumerate(cfg["disks"]):
            p = directory / d["fileName"]
            try:
                size = os.stat(p).st_size
            except OSError:
                size = 0
            disks.append({"name": d["name"], "file": f"{rel}/{d['fileName']}", "size": size,
                          "boot": d["boot"] if cfg["disks"] else i == 0})
        rec = new_vm_record(
            self, cfg.get("name") or rel.rsplit("/", 1)[-1], hyper, rel, disks,
            vcenterName="", host="", powered=False,
            configFile=f"{rel}/{cfg_path.name}",
        )
        rec["discovered"] = True
        for key in ("numberCpu", "memoryMB"):
            try:
                rec[key] = int(cfg.get(key))
            except (TypeError, ValueError):
                pass
        self.add_vm(rec)
        self.lab.log.info("%s: discovered VM directory %s as %s", self.name, rel, rec["id"])
        return True
