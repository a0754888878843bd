"""The ConfigMgr site as the AdminService shows it: devices, collections with direct rules and
evaluated membership, software updates, update groups, deployments and per-device compliance.

Everything time-dependent is derived on read from stored instants and the simulated clock (real
time plus an offset the lab can advance), so no background thread is needed and the answer to a
read is always consistent. State is one JSON document written atomically after every change.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import os
import threading
import time
import uuid
from pathlib import Path

import yaml

from .odata import ODataError, bad_request, not_found

DEFAULT_DESCRIPTION = Path(__file__).resolve().parent / "labs" / "default.yml"
ALL_SYSTEMS = "SMS00001"
DEFAULT_TIMINGS = {"evaluation_seconds": 2.0, "download_seconds": 2.0, "install_seconds": 3.0, "reboot_seconds": 3.0}

# SMS_Collection.CurrentStatus
READY, AWAITING_REFRESH = 1, 5
# Update enforcement state messages (topic type 402) as the console names them.
ENFORCEMENT_MESSAGES = {
    0: "Enforcement state unknown", 1: "Installing update(s)", 2: "Waiting for restart",
    3: "Waiting for another installation to complete", 4: "Successfully installed update(s)",
    5: "Pending system restart", 6: "Failed to install update(s)", 7: "Downloading update(s)",
    8: "Downloaded update(s)", 9: "Failed to download update(s)",
}
PHASE_MESSAGE = {"downloading": 7, "installing": 1, "pending_reboot": 5, "failed": 6, "installed": 4}
# SMS_SUMDeploymentAssetDetails.StatusType
STATUS_SUCCESS, STATUS_IN_PROGRESS, STATUS_UNKNOWN, STATUS_ERROR = 1, 2, 4, 5
# SMS_ClientOperation types the simulated client acts on; the rest are accepted and recorded.
CLIENT_OPERATION_TYPES = {8: "DownloadComputerPolicy", 9: "DownloadUserPolicy", 10: "CollectDiscoveryData",
                          11: "CollectSoftwareInventory", 12: "CollectHardwareInventory",
                          13: "EvaluateApplicationDeployments", 14: "EvaluateSoftwareUpdateDeployments",
                          15: "SwitchToNextSoftwareUpdatePoint", 16: "EvaluateDeviceHealthAttestation",
                          17: "Restart", 150: "WakeUp"}
STARTS_ENFORCEMENT = {8, 14}
RESTART = 17


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_description(source=None) -> dict:
    if isinstance(source, dict):
        return copy.deepcopy(source)
    return yaml.safe_load(Path(source or DEFAULT_DESCRIPTION).read_text())


class SiteModel:
    """One ConfigMgr site. All public methods take the lock; reads settle due evaluations first."""

    def __init__(self, state_dir, description=None, timings: dict | None = None):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.state_dir / "configmgr.json"
        self.lock = threading.RLock()
        if self.path.exists():
            self.state = json.loads(self.path.read_text())
        else:
            self.state = _seed(load_description(description), time.time())
        if timings:
            unknown = set(timings) - set(DEFAULT_TIMINGS)
            if unknown:
                raise ValueError(f"unknown timings: {sorted(unknown)}")
            self.state["timings"].update({k: float(v) for k, v in timings.items()})
        self.save()

    # -- persistence and clock ------------------------------------------------------------------

    def save(self) -> None:
        with self.lock:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True))
            os.replace(tmp, self.path)

    def now(self) -> float:
        return time.time() + self.state["clock_offset"]

    def advance(self, seconds: float) -> float:
        with self.lock:
            self.state["clock_offset"] += float(seconds)
            self.save()
            return self.now()

    @property
    def timings(self) -> dict:
        return self.state["timings"]

    @property
    def site_code(self) -> str:
        return self.state["site_code"]

    # -- lookups --------------------------------------------------------------------------------

    def device(self, resource_id: int) -> dict:
        dev = self.state["devices"].get(str(resource_id))
        if dev is None:
            raise not_found(f"No device with ResourceID {resource_id}.")
        return dev

    def device_by_name(self, name: str) -> dict:
        short = name.split(".")[0].upper()
        for dev in self.state["devices"].values():
            if dev["Name"] == short:
                return dev
        raise not_found(f"No device named {name}.")

    def collection(self, collection_id: str) -> dict:
        for key, coll in self.state["collections"].items():
            if key.upper() == str(collection_id).upper():
                return coll
        raise not_found(f"No collection with CollectionID '{collection_id}'.")

    def members(self, coll: dict) -> list[int]:
        if coll["CollectionID"] == ALL_SYSTEMS:
            return sorted(int(k) for k in self.state["devices"])
        return list(coll["members"])

    # -- collection evaluation ------------------------------------------------------------------

    def settle(self) -> None:
        """Finish every collection evaluation whose time has come (limiting collections first)."""
        with self.lock:
            now = self.now()
            due = sorted((c for c in self.state["collections"].values()
                          if c.get("pending_eval_at") is not None and c["pending_eval_at"] <= now),
                         key=lambda c: c["pending_eval_at"])
            for coll in due:
                self._evaluate(coll, coll["pending_eval_at"])
            if due:
                self.save()

    def _evaluate(self, coll: dict, at: float) -> None:
        limit = self.state["collections"].get(coll["LimitToCollectionID"] or "")
        allowed = set(self.members(limit)) if limit else set(int(k) for k in self.state["devices"])
        members = sorted({r["ResourceID"] for r in coll["rules"]} & allowed)
        if members != coll["members"]:
            coll["LastMemberChangeTime"] = at
        coll["members"] = members
        coll["LastRefreshTime"] = at
        coll["pending_eval_at"] = None

    def evaluate_now(self, collection_id: str) -> dict:
        with self.lock:
            coll = self.collection(collection_id)
            self._evaluate(coll, self.now())
            self.save()
            return coll

    # -- collections ----------------------------------------------------------------------------

    def create_collection(self, name: str, limit_id: str, collection_type: int, comment: str) -> dict:
        with self.lock:
            self.settle()
            if any(c["Name"].casefold() == name.casefold() for c in self.state["collections"].values()):
                raise ODataError(400, "BadRequest", f"A collection named '{name}' already exists.")
            limit = self.collection(limit_id) if limit_id else None
            if limit is None:
                raise bad_request("LimitToCollectionID is required for a collection other than a built-in one.")
            if limit["CollectionType"] != collection_type:
                raise bad_request(f"The limiting collection '{limit['CollectionID']}' is of another CollectionType.")
            self.state["next_collection"] += 1
            cid = "%s%05X" % (self.site_code, self.state["next_collection"])
            now = self.now()
            coll = _collection(cid, name, comment, collection_type, limit["CollectionID"], now)
            self.state["collections"][cid] = coll
            self.save()
            return coll

    def delete_collection(self, collection_id: str) -> None:
        with self.lock:
            coll = self.collection(collection_id)
            if coll["IsBuiltIn"]:
                raise ODataError(403, "Forbidden", f"The built-in collection '{coll['CollectionID']}' cannot be deleted.")
            users = [c["CollectionID"] for c in self.state["collections"].values()
                     if c["LimitToCollectionID"] == coll["CollectionID"]]
            if users:
                raise bad_request(f"Collection '{coll['CollectionID']}' is the limiting collection of {', '.join(users)}.")
            deployed = [str(d["AssignmentID"]) for d in self.state["deployments"].values()
                        if d["TargetCollectionID"] == coll["CollectionID"]]
            if deployed:
                raise bad_request(f"Collection '{coll['CollectionID']}' is the target of deployment(s) {', '.join(deployed)}.")
            del self.state["collections"][coll["CollectionID"]]
            self.save()

    def add_direct_rules(self, collection_id: str, rules: list[dict]) -> None:
        with self.lock:
            coll = self.collection(collection_id)
            for rule in rules:
                self.device(rule["ResourceID"])
                if not any(r["ResourceID"] == rule["ResourceID"] for r in coll["rules"]):
                    coll["rules"].append(rule)
            coll["LastChangeTime"] = self.now()
            self.save()

    def delete_direct_rules(self, collection_id: str, rules: list[dict]) -> None:
        with self.lock:
            coll = self.collection(collection_id)
            gone = {r["ResourceID"] for r in rules}
            coll["rules"] = [r for r in coll["rules"] if r["ResourceID"] not in gone]
            coll["LastChangeTime"] = self.now()
            self.save()

    def request_refresh(self, collection_id: str) -> None:
        with self.lock:
            self.settle()
            coll = self.collection(collection_id)
            if coll["CollectionID"] == ALL_SYSTEMS:
                return
            due = self.now() + self.timings["evaluation_seconds"]
            if coll.get("pending_eval_at") is None or coll["pending_eval_at"] > due:
                coll["pending_eval_at"] = due
            self.save()

    # -- software update deployments (created by the ConfigurationManager cmdlets, over PSRP) -------

    def update_group(self, ci_id) -> dict:
        group = self.state["update_groups"].get(str(ci_id)) if str(ci_id).isdigit() else None
        if group is None:
            raise not_found(f"No software update group with CI_ID {ci_id}.")
        return group

    def create_deployment(self, ci_id, collection_id: str, name: str, start: float, deadline: float, *,
                          notify_user: bool = False, ui_experience: bool = False, suppress_reboot: int = 0,
                          override_windows: bool = False, reboot_outside: bool = False) -> dict:
        """A required deployment of an update group to a collection, as New-CMSoftwareUpdateDeployment makes it."""
        with self.lock:
            self.settle()
            group = self.update_group(ci_id)
            coll = self.collection(collection_id)
            aid = max([int(k) for k in self.state["deployments"]] + [16_777_299]) + 1
            dep = {"AssignmentID": aid, "AssignmentName": name, "AssignedUpdateGroup": group["CI_ID"],
                   "AssignedCIs": list(group["Updates"]), "TargetCollectionID": coll["CollectionID"],
                   "AssignmentUniqueID": "{%s}" % str(uuid.uuid4()).upper(), "StartTime": float(start),
                   "EnforcementDeadline": float(deadline), "Enabled": True, "SuppressReboot": int(suppress_reboot),
                   "OverrideServiceWindows": bool(override_windows), "RebootOutsideOfServiceWindows": bool(reboot_outside),
                   "NotifyUser": bool(notify_user), "UserUIExperience": bool(ui_experience), "CreationTime": self.now()}
            self.state["deployments"][str(aid)] = dep
            self.save()
            return dep

    def remove_deployment(self, unique_id: str) -> bool:
        """Remove the deployment with this AssignmentUniqueID; False when there is none."""
        with self.lock:
            for key, dep in list(self.state["deployments"].items()):
                if dep["AssignmentUniqueID"].strip("{}").lower() == str(unique_id).strip("{}").lower():
                    del self.state["deployments"][key]
                    self.save()
                    return True
            return False

    # -- clients --------------------------------------------------------------------------------

    def online(self, dev: dict) -> bool:
        return dev.get("offline_until") is None or self.now() >= dev["offline_until"]

    def client_operation(self, op_type: int, collection_id: str, resource_ids: list[int]) -> int:
        with self.lock:
            self.settle()
            coll = self.collection(collection_id)
            members = set(self.members(coll))
            targets = resource_ids or sorted(members)
            strangers = [r for r in targets if r not in members]
            if strangers:
                raise bad_request(f"TargetResourceIDs {strangers} are not members of collection '{coll['CollectionID']}'.")
            self.state["next_operation"] += 1
            op_id = self.state["next_operation"]
            now = self.now()
            reached = []
            for rid in targets:
                dev = self.device(rid)
                if not self.online(dev):
                    continue  # a notification never reaches a client that is offline
                reached.append(rid)
                if op_type in STARTS_ENFORCEMENT:
                    self._start_enforcement(dev, now)
                elif op_type == RESTART:
                    self._reboot(dev, now)
            self.state["operations"].append({"ID": op_id, "Type": op_type, "TargetCollectionID": coll["CollectionID"],
                                             "TargetResourceIDs": targets, "Reached": reached, "Time": now})
            self.save()
            return op_id

    def _applicable_cis(self, dev: dict, now: float) -> list[int]:
        cis = []
        for dep in self.state["deployments"].values():
            if not dep["Enabled"] or (dep["StartTime"] or 0) > now:
                continue
            coll = self.state["collections"].get(dep["TargetCollectionID"])
            if coll and dev["ResourceID"] in self.members(coll):
                cis.extend(dep["AssignedCIs"])
        return cis

    def _start_enforcement(self, dev: dict, now: float) -> None:
        for ci in self._applicable_cis(dev, now):
            rec = dev["updates"].get(str(ci))
            if rec is None or rec["status"] != "required":
                continue
            phase = self.phase(dev, ci)[0]
            if phase in ("required", "failed"):
                rec.update(started=now, error=dev["faults"].get("install_error"), rebooted_at=None,
                           download=self.timings["download_seconds"], install=self.timings["install_seconds"])

    def _reboot(self, dev: dict, now: float) -> None:
        back = now + self.timings["reboot_seconds"]
        dev["offline_until"] = back
        dev["last_offline"] = now
        dev["last_online"] = back
        if dev["faults"].get("stuck_reboot"):
            return
        for ci in list(dev["updates"]):
            if self.phase(dev, int(ci))[0] == "pending_reboot":
                dev["updates"][ci]["rebooted_at"] = back

    def reboot(self, name: str) -> dict:
        """The lab restarts a host (what a real reboot looks like from ConfigMgr: the client goes
        offline, comes back after reboot_seconds, and a pending restart is then cleared)."""
        with self.lock:
            dev = self.device_by_name(name)
            self._reboot(dev, self.now())
            self.save()
            return dev

    def add_device(self, name: str) -> dict:
        """A device the lab description does not list (a server that is no Hyper-V host), with a client and
        the same required updates as the others; a member of All Systems only."""
        with self.lock:
            short = name.split(".")[0].upper()
            if any(d["Name"] == short for d in self.state["devices"].values()):
                raise bad_request(f"A device named {short} exists.")
            template = next(iter(self.state["devices"].values()))
            rid = max(int(k) for k in self.state["devices"]) + 1
            self.state["devices"][str(rid)] = dict(
                template, ResourceID=rid, Name=short, fqdn=f"{short.lower()}.{self.state['domain']}", cluster=None,
                SMSUniqueIdentifier="GUID:" + str(uuid.uuid5(uuid.NAMESPACE_DNS, short)).upper(),
                updates={ci: {"status": "required"} for ci in template["updates"]}, faults={}, offline_until=None,
                last_offline=None)
            self.save()
            return self.state["devices"][str(rid)]

    def set_device_faults(self, name: str, faults: dict) -> dict:
        with self.lock:
            dev = self.device_by_name(name)
            unknown = set(faults) - {"install_error", "stuck_reboot"}
            if unknown:
                raise bad_request(f"unknown device faults: {sorted(unknown)}")
            for key, value in faults.items():
                if value in (None, False):
                    dev["faults"].pop(key, None)
                else:
                    dev["faults"][key] = int(value) if key == "install_error" else bool(value)
            self.save()
            return dev

    # -- compliance -----------------------------------------------------------------------------

    def phase(self, dev: dict, ci: int) -> tuple[str, float | None, int]:
        """(phase, since, error code) of one update on one device at the simulated now."""
        rec = dev["updates"].get(str(ci))
        if rec is None:
            return "not_required", None, 0
        if rec["status"] == "installed":
            return "installed", rec.get("installed_at"), 0
        started = rec.get("started")
        if started is None:
            return "required", None, 0
        now = self.now()
        downloaded = started + rec["download"]
        installed = downloaded + rec["install"]
        if now < downloaded:
            return "downloading", started, 0
        if now < installed:
            return "installing", downloaded, 0
        if rec.get("error"):
            return "failed", installed, rec["error"]
        update = self.state["updates"][str(ci)]
        if not update["requires_reboot"]:
            return "installed", installed, 0
        if rec.get("rebooted_at") is not None and now >= rec["rebooted_at"]:
            return "installed", rec["rebooted_at"], 0
        return "pending_reboot", installed, 0


def _collection(cid, name, comment, collection_type, limit_id, now, builtin=False) -> dict:
    return {"CollectionID": cid, "Name": name, "Comment": comment or "", "CollectionType": collection_type,
            "LimitToCollectionID": limit_id or "", "IsBuiltIn": builtin, "rules": [], "members": [],
            "pending_eval_at": None, "LastRefreshTime": now, "LastMemberChangeTime": now, "LastChangeTime": now}


def _seed(desc: dict, now: float) -> dict:
    site = desc.get("site_code", "LAB")
    domain = desc.get("domain", "lab.local")
    timings = dict(DEFAULT_TIMINGS)
    timings.update({k: float(v) for k, v in (desc.get("timings") or {}).items()})
    state = {"site_code": site, "domain": domain, "provider": desc.get("provider", f"cm01.{domain}"),
             "timings": timings, "clock_offset": 0.0, "next_collection": 0x0F, "next_operation": 16777216,
             "devices": {}, "collections": {}, "updates": {}, "update_groups": {}, "deployments": {},
             "operations": []}
    updates = state["updates"]
    for i, u in enumerate(desc.get("updates") or []):
        ci = int(u.get("ci_id", 16_800_001 + i))
        updates[str(ci)] = {"CI_ID": ci, "ArticleID": str(u["article"]), "BulletinID": u.get("bulletin", ""),
                            "LocalizedDisplayName": u["title"], "Severity": int(u.get("severity", 8)),
                            "IsExpired": False, "IsSuperseded": False, "requires_reboot": bool(u.get("reboot", True)),
                            "CI_UniqueID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"update/{u['article']}"))}
    by_article = {u["ArticleID"]: u["CI_ID"] for u in updates.values()}
    names = []
    for cluster, nodes in (desc.get("clusters") or {}).items():
        names += [(n, cluster) for n in nodes]
    names += [(n, None) for n in desc.get("hosts") or []]
    for i, (name, cluster) in enumerate(names):
        rid = 16_777_220 + i
        short = name.split(".")[0].upper()
        state["devices"][str(rid)] = {
            "ResourceID": rid, "Name": short, "fqdn": f"{name.split('.')[0]}.{domain}".lower(),
            "cluster": cluster, "ClientVersion": desc.get("client_version", "5.00.9128.1000"),
            "SMSUniqueIdentifier": "GUID:" + str(uuid.uuid5(uuid.NAMESPACE_DNS, short)).upper(),
            "updates": {str(by_article[str(a)]): {"status": "required"} for a in desc.get("required_updates") or []},
            "faults": {}, "offline_until": None, "last_online": now - 86400, "last_offline": None,
        }
    colls = state["collections"]
    colls[ALL_SYSTEMS] = _collection(ALL_SYSTEMS, "All Systems", "All Systems", 2, "", now, builtin=True)
    by_name = {}
    for c in desc.get("collections") or []:
        state["next_collection"] += 1
        cid = "%s%05X" % (site, state["next_collection"])
        coll = _collection(cid, c["name"], c.get("comment", ""), 2, ALL_SYSTEMS, now)
        for n in c.get("members") or []:
            dev = next(d for d in state["devices"].values() if d["Name"] == n.split(".")[0].upper())
            coll["rules"].append({"RuleName": dev["Name"], "ResourceID": dev["ResourceID"],
                                  "ResourceClassName": "SMS_R_System"})
        coll["members"] = sorted(r["ResourceID"] for r in coll["rules"])
        colls[cid] = coll
        by_name[c["name"]] = cid
    for i, g in enumerate(desc.get("update_groups") or []):
        ci = 16_790_001 + i
        state["update_groups"][str(ci)] = {
            "CI_ID": ci, "LocalizedDisplayName": g["name"], "LocalizedDescription": g.get("description", ""),
            "Updates": [by_article[str(a)] for a in g["updates"]], "DateCreated": now - 7 * 86400,
            "CI_UniqueID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sug/{g['name']}"))}
    groups = {g["LocalizedDisplayName"]: g for g in state["update_groups"].values()}
    for i, d in enumerate(desc.get("deployments") or []):
        aid = 16_777_300 + i
        group = groups[d["update_group"]]
        state["deployments"][str(aid)] = {
            "AssignmentID": aid, "AssignmentName": d["name"], "AssignedUpdateGroup": group["CI_ID"],
            "AssignedCIs": list(group["Updates"]), "TargetCollectionID": by_name[d["collection"]],
            "AssignmentUniqueID": "{%s}" % str(uuid.uuid5(uuid.NAMESPACE_URL, f"deployment/{d['name']}")).upper(),
            "StartTime": now - 86400, "EnforcementDeadline": now - 3600, "Enabled": True,
            "SuppressReboot": 0, "OverrideServiceWindows": False, "RebootOutsideOfServiceWindows": False,
            "CreationTime": now - 86400}
    return state
