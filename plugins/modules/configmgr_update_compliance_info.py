#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: configmgr_update_compliance_info
short_description: Software update compliance of devices for the updates of one ConfigMgr deployment
version_added: 0.1.0
description:
  - Reads, for one software update deployment, which of its updates each device has installed, still needs, is
    installing, failed to install or waits to finish with a restart.
  - Compliance is judged only on the updates the deployment carries (its C(AssignedCIs)), read per device and update
    from C(SMS_UpdateComplianceStatus). Other updates a device may still need do not count, so a host that installed
    everything the deployment gave it is compliant even when other, undeployed updates are pending.
  - The deployment's own view per device (C(SMS_SUMDeploymentAssetDetails)) and whether the device's client is online
    (C(SMS_CombinedDeviceResources)) come along, so a caller can tell "installing" from "waiting for a restart" from
    "restarting".
author:
  - vmops.datacenter maintainers (@vmops)
options:
  deployment_id:
    description:
      - AssignmentID of the software update deployment.
      - One of O(deployment_id) and O(deployment) is required.
    type: int
  deployment:
    description:
      - Name (C(AssignmentName)) of the software update deployment; it must name exactly one.
    type: str
  devices:
    description:
      - Devices to report on, by NetBIOS name or FQDN. Every device must be known to the site exactly once.
      - Default is every evaluated member of the deployment's target collection.
      - A device that the deployment does not target is reported too (its RV(devices[].deployment_status) is
        C(not_targeted)), which gives the compliance before the device joins the target collection.
    type: list
    elements: str
  wait_until:
    description:
      - Poll until every reported device is in one of these states (RV(devices[].compliant),
        RV(devices[].pending_reboot), RV(devices[].failed)), for example while a deployment installs.
      - Running out of O(wait_timeout) is not an error; RV(timed_out) says so and the result holds the last state
        read, for the caller to judge.
      - Default is no waiting (one read).
    type: list
    elements: str
    choices: [compliant, pending_reboot, failed]
    default: []
  wait_timeout:
    description:
      - Seconds to poll with O(wait_until).
    type: float
    default: 3600
  poll_interval:
    description:
      - Seconds between two reads with O(wait_until).
    type: float
    default: 30
  query:
    description:
      - A JMESPath expression applied to the result; its value is returned as RV(query_result).
    type: str
extends_documentation_fragment:
  - vmops.datacenter.configmgr
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.INFO_MODULE
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
seealso:
  - name: SMS_UpdateComplianceStatus server WMI class
    description: Per device and update compliance.
    link: https://learn.microsoft.com/mem/configmgr/develop/reference/sum/sms_updatecompliancestatus-server-wmi-class
  - name: SMS_SUMDeploymentAssetDetails server WMI class
    description: Per deployment and device status.
    link: https://learn.microsoft.com/mem/configmgr/develop/reference/sum/sms_sumdeploymentassetdetails-server-wmi-class
"""

EXAMPLES = r"""
- name: Has the host installed what the patch deployment gave it?
  vmops.datacenter.configmgr_update_compliance_info:
    server: cm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ configmgr_password }}"
    deployment: Hyper-V hosts 2026-11 - Hyper-V patch
    devices: ["{{ inventory_hostname }}"]
    wait_until: [compliant, pending_reboot, failed]
    wait_timeout: 7200
  register: compliance
  delegate_to: localhost

- name: Stop unless the host got there
  ansible.builtin.assert:
    that: not compliance.timed_out and not compliance.devices[0].failed

- name: Names of every targeted host that is not compliant yet
  vmops.datacenter.configmgr_update_compliance_info:
    server: cm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ configmgr_password }}"
    deployment_id: 16777300
    query: "devices[?!compliant].name"
  delegate_to: localhost
"""

RETURN = r"""
deployment:
  description: The deployment.
  returned: always
  type: dict
  contains:
    assignment_id:
      description: AssignmentID.
      type: int
      sample: 16777300
    name:
      description: AssignmentName.
      type: str
    target_collection_id:
      description: CollectionID of the collection the deployment targets.
      type: str
    update_group:
      description: CI_ID of the software update group deployed, or null for a deployment of single updates.
      type: int
    enabled:
      description: Whether the deployment is enabled.
      type: bool
updates:
  description: The deployment's updates (the only ones judged).
  returned: always
  type: list
  elements: dict
  contains:
    ci_id:
      description: CI_ID.
      type: int
    article_id:
      description: Knowledge base article number.
      type: str
      sample: "5068787"
    title:
      description: Display name.
      type: str
devices:
  description: One entry per device.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Device name as ConfigMgr knows it.
      type: str
    resource_id:
      description: ResourceID.
      type: int
    compliant:
      description: Every update of the deployment is installed or not required on the device.
      type: bool
    pending_reboot:
      description: At least one update waits for a restart to finish installing.
      type: bool
    failed:
      description: At least one update failed to install (or the deployment reports an error for the device).
      type: bool
    online:
      description: The device's client is online (false while it restarts), or null when unknown.
      type: bool
    deployment_status:
      description: C(success), C(in_progress), C(error), C(unknown) as the deployment reports the device, or
        C(not_targeted) when the device is not in the target collection.
      type: str
    error_code:
      description: The enforcement error code when an update failed, else 0.
      type: int
    updates:
      description: Per update of the deployment, C(ci_id), C(article_id), C(status) (C(installed), C(required),
        C(not_required), C(unknown)), C(enforcement) and C(enforcement_id) (the last enforcement state message and its id, for example
        C(Pending system restart)) and C(error_code).
      type: list
      elements: dict
summary:
  description: Device counts, C(total), C(compliant), C(in_progress), C(pending_reboot), C(failed), C(unknown).
  returned: always
  type: dict
waited:
  description: Seconds spent polling with O(wait_until) (0 without it).
  returned: always
  type: float
  sample: 184.2
timed_out:
  description: O(wait_until) was given and O(wait_timeout) ran out before every device reached one of its states.
  returned: always
  type: bool
  sample: false
all_compliant:
  description: Every reported device is compliant.
  returned: always
  type: bool
query_result:
  description: The value of O(query) over the result.
  returned: when O(query) is set
  type: raw
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._common import Deadline, apply_query, check_query
from ansible_collections.vmops.datacenter.plugins.module_utils._configmgr_module import ConfigMgrModule
from ansible_collections.vmops.datacenter.plugins.module_utils._progress import Progress

UPDATE_STATUS = {0: "unknown", 1: "not_required", 2: "required", 3: "installed"}
DEPLOYMENT_STATUS = {1: "success", 2: "in_progress", 4: "unknown", 5: "error"}
# Update enforcement state messages: pending system restart, failed to install, failed to download.
PENDING_RESTART = 5
FAILED_INSTALL = 6
FAILED_DOWNLOAD = 9
WAIT_STATES = ("compliant", "pending_reboot", "failed")


class ComplianceInfoModule(ConfigMgrModule):
    def __init__(self):
        super().__init__(dict(
            deployment_id=dict(type="int"),
            deployment=dict(type="str"),
            devices=dict(type="list", elements="str"),
            wait_until=dict(type="list", elements="str", default=[], choices=list(WAIT_STATES)),
            wait_timeout=dict(type="float", default=3600),
            poll_interval=dict(type="float", default=30),
            query=dict(type="str"),
        ), supports_check_mode=True, mutually_exclusive=[("deployment_id", "deployment")],
            required_one_of=[("deployment_id", "deployment")])
        check_query(self.module, self.params["query"])

    def deployment(self, client):
        params = self.params
        hits = client.find_deployments(assignment_id=params["deployment_id"], name=params["deployment"])
        wanted = params["deployment_id"] if params["deployment_id"] is not None else repr(params["deployment"])
        if not hits:
            self.fail("ConfigMgr has no software update deployment %s." % wanted)
        if len(hits) > 1:
            self.fail("%d software update deployments are named %s (AssignmentIDs %s); use deployment_id." % (
                len(hits), wanted, ", ".join(str(h["AssignmentID"]) for h in hits)))
        return hits[0]

    def devices(self, client, assets):
        """(name, ResourceID) of the devices to report on."""
        if not self.params["devices"]:
            return [(a.get("DeviceName"), int(a["ResourceID"])) for a in assets]
        wanted = [d.strip() for d in self.params["devices"] if d and d.strip()]
        found = client.find_devices(wanted)
        missing = [w for w in wanted if not found[w]]
        twice = [w for w in wanted if len(found[w]) > 1]
        if missing or twice:
            self.fail("Devices %s." % "; ".join(p for p in (
                "unknown to the site: %s" % ", ".join(missing) if missing else "",
                "known more than once: %s" % ", ".join(twice) if twice else "") if p))
        out, seen = [], set()
        for w in wanted:
            device = found[w][0]
            if int(device["ResourceID"]) not in seen:
                seen.add(int(device["ResourceID"]))
                out.append((device["Name"], int(device["ResourceID"])))
        return out

    def work(self, client):
        dep = self.deployment(client)
        ci_ids = [int(c) for c in dep.get("AssignedCIs") or []]
        self.result["deployment"] = dict(
            assignment_id=dep["AssignmentID"], name=dep.get("AssignmentName"),
            target_collection_id=dep.get("TargetCollectionID"), update_group=dep.get("AssignedUpdateGroup"),
            enabled=dep.get("Enabled"))
        articles = dict((int(u["CI_ID"]), u) for u in client.software_updates(ci_ids))
        self.result["updates"] = [dict(ci_id=c, article_id=(articles.get(c) or {}).get("ArticleID"),
                                       title=(articles.get(c) or {}).get("LocalizedDisplayName")) for c in ci_ids]
        devices = self.devices(client, []) if self.params["devices"] else None
        wanted = self.params["wait_until"]
        deadline, progress = Deadline(self.params["wait_timeout"]), Progress()
        while True:
            devices, entries = self.read(client, dep["AssignmentID"], ci_ids, articles, devices)
            done = not wanted or all(any(e[state] for state in wanted) for e in entries)
            if done or deadline.expired():
                break
            progress.update("%s: %s, %s" % (dep.get("AssignmentName"), waiting_status(entries), progress.elapsed()))
            client.pause(min(self.params["poll_interval"], deadline.remaining))
        self.result["waited"] = round(deadline.elapsed, 1) if wanted else 0.0
        self.result["timed_out"] = bool(wanted) and not done
        self.result["devices"] = entries
        self.result["summary"] = dict(
            total=len(entries), compliant=sum(e["compliant"] for e in entries),
            in_progress=sum(e["deployment_status"] == "in_progress" and not e["compliant"] for e in entries),
            pending_reboot=sum(e["pending_reboot"] for e in entries), failed=sum(e["failed"] for e in entries),
            unknown=sum(e["deployment_status"] == "unknown" for e in entries))
        self.result["all_compliant"] = all(e["compliant"] for e in entries)
        if self.params["query"]:
            self.result["query_result"] = apply_query(self.module, dict(
                (k, v) for k, v in self.result.items() if k != "changed"), self.params["query"])

    def read(self, client, assignment_id, ci_ids, articles, devices):
        """(devices, entries): every targeted device when ``devices`` is None, else those named."""
        if devices is not None:
            assets = client.deployment_assets(assignment_id, [rid for _name, rid in devices])
        else:
            assets = client.deployment_assets(assignment_id)
            devices = self.devices(client, assets)
        by_device = dict((int(a["ResourceID"]), a) for a in assets)
        states = {}
        for row in client.update_compliance([rid for _name, rid in devices], ci_ids):
            states[(int(row["MachineID"]), int(row["CI_ID"]))] = row
        online = client.online_status([rid for _name, rid in devices])
        return devices, [self.entry(name, rid, ci_ids, articles, states, by_device.get(rid), online.get(rid))
                         for name, rid in devices]

    @staticmethod
    def entry(name, rid, ci_ids, articles, states, asset, online):
        updates = []
        for ci in ci_ids:
            row = states.get((rid, ci)) or {}
            message = row.get("LastEnforcementMessageID")
            updates.append(dict(ci_id=ci, article_id=row.get("ArticleID") or (articles.get(ci) or {}).get("ArticleID"),
                                status=UPDATE_STATUS.get(row.get("Status"), "unknown"),
                                enforcement=row.get("LastEnforcementMessageName"), enforcement_id=message,
                                error_code=row.get("LastErrorCode") or 0))
        compliant = bool(updates) and all(u["status"] in ("installed", "not_required") for u in updates)
        pending = any(u["enforcement_id"] == PENDING_RESTART and u["status"] != "installed" for u in updates)
        errors = [u["error_code"] for u in updates if u["enforcement_id"] in (FAILED_INSTALL, FAILED_DOWNLOAD)]
        status = "not_targeted" if asset is None else DEPLOYMENT_STATUS.get(asset.get("StatusType"), "unknown")
        if asset is not None and asset.get("StatusType") == 5:
            errors.append(asset.get("StatusErrorCode") or asset.get("LastEnforcementErrorCode") or 0)
        return dict(name=name or (asset or {}).get("DeviceName"), resource_id=rid, compliant=compliant,
                    pending_reboot=pending and not compliant, failed=bool(errors) and not compliant,
                    online=online, deployment_status=status,
                    error_code=next((e for e in errors if e), 0) if not compliant else 0, updates=updates)


def waiting_status(entries):
    """One device: its updates by status; several: devices by state."""
    if len(entries) == 1:
        entry = entries[0]
        counts = {}
        for update in entry["updates"]:
            counts[update["status"]] = counts.get(update["status"], 0) + 1
        updates = ", ".join("%d %s" % (n, s.replace("_", " ")) for s, n in sorted(counts.items()))
        return "%s %s (%s; deployment %s%s)" % (
            entry["name"], "restart pending" if entry["pending_reboot"] else "not compliant yet", updates,
            entry["deployment_status"].replace("_", " "), "" if entry["online"] is not False else ", client offline")
    return "%d devices: %d compliant, %d restart pending, %d failed, %d other" % (
        len(entries), sum(e["compliant"] for e in entries), sum(e["pending_reboot"] for e in entries),
        sum(e["failed"] for e in entries),
        sum(not (e["compliant"] or e["pending_reboot"] or e["failed"]) for e in entries))


def main():
    module = ComplianceInfoModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
