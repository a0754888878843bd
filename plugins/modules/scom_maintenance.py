#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: scom_maintenance
short_description: Start, extend or end maintenance mode of System Center Operations Manager objects
version_added: 0.1.0
description:
  - Puts System Center Operations Manager (SCOM) monitoring objects into maintenance mode or takes them out of it,
    many objects in one task and one PowerShell remoting (PSRP) session on the SCOM management server.
  - O(state=present) starts maintenance mode on the objects that are not in it, extends it on the objects whose
    window ends earlier than requested, and leaves alone the objects whose window already ends at or after the
    requested end.
  - O(state=absent) ends maintenance mode now on the objects that are in it.
  - The result has one entry per object with what was done.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  objects:
    description:
      - The monitoring objects, by display name (compared case-insensitively; for computers the fully qualified
        name) or by SCOM id (GUID). Every object must exist; otherwise the task fails before changing anything.
    type: list
    elements: str
    required: true
    aliases: [object, names]
  class_name:
    description:
      - SCOM class of the objects.
    type: str
    default: Microsoft.Windows.Computer
  state:
    description:
      - V(present) for the objects to be in maintenance mode until at least the requested end, V(absent) for them
        not to be in maintenance mode.
    type: str
    choices: [present, absent]
    default: present
  reason:
    description:
      - Maintenance mode reason. Unset uses V(PlannedOther) when maintenance mode starts and keeps the reason of an
        extended window.
    type: str
    choices: [PlannedOther, UnplannedOther, PlannedHardwareMaintenance, UnplannedHardwareMaintenance,
              PlannedHardwareInstallation, UnplannedHardwareInstallation, PlannedOperatingSystemReconfiguration,
              UnplannedOperatingSystemReconfiguration, PlannedApplicationMaintenance, ApplicationInstallation,
              ApplicationUnresponsive, ApplicationUnstable, SecurityIssue, LossOfNetworkConnectivity]
  comment:
    description:
      - Maintenance mode comment. Unset keeps the comment of an extended window.
    type: str
  duration:
    description:
      - With O(state=present), minutes from now the window is to last. One of O(duration) and O(end_time) is
        needed with O(state=present).
      - A window that ends less than one minute before the requested end counts as ending at it, so a second run
        does not extend it again.
    type: int
  end_time:
    description:
      - With O(state=present), when the window is to end, as an ISO 8601 time (C(2026-11-22T18:00:00Z); a time
        without offset is UTC). Must be in the future.
    type: str
extends_documentation_fragment:
  - vmops.datacenter.psrp
  - vmops.datacenter.scom
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
    details: Looks the objects up and returns the plan (RV(objects[].action)), changes nothing.
  diff_mode:
    support: full
notes:
  - Maintenance mode is started and ended recursively (the object and what it hosts), as the SCOM console does.
seealso:
  - name: Start-SCOMMaintenanceMode
    description: The SCOM cmdlet that starts maintenance mode.
    link: https://learn.microsoft.com/powershell/module/operationsmanager/start-scommaintenancemode
"""

EXAMPLES = r"""
- name: Two hours of maintenance mode for the batch's VMs
  vmops.datacenter.scom_maintenance:
    server: scom01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ scom_password }}"
    objects: [web01.example.com, web02.example.com]
    state: present
    duration: 120
    reason: PlannedApplicationMaintenance
    comment: "checkpoint batch 7"
  delegate_to: localhost

- name: Until a fixed time
  vmops.datacenter.scom_maintenance:
    server: scom01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ scom_password }}"
    objects: [sql01.example.com]
    end_time: "2026-11-22T18:00:00Z"
  delegate_to: localhost

- name: End maintenance mode
  vmops.datacenter.scom_maintenance:
    server: scom01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ scom_password }}"
    objects: [web01.example.com, web02.example.com]
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
objects:
  description: One entry per monitoring object, in the order of O(objects).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: SCOM id of the object.
      type: str
    display_name:
      description: Display name of the object.
      type: str
    requested:
      description: The entry of O(objects) that named the object.
      type: str
    action:
      description: C(start), C(extend), C(stop) or C(none).
      type: str
    before:
      description: The maintenance window before (C(start_time), C(end_time), C(reason), C(comment), C(user)), or
        null.
      type: dict
    after:
      description: The maintenance window after (as planned in check mode), or null.
      type: dict
    error:
      description: What SCOM answered for this object when it failed, else null.
      type: str
end_time:
  description: The requested end of the window (UTC, ISO 8601) with O(state=present).
  returned: when O(state=present)
  type: str
  sample: "2026-11-22T18:00:00Z"
"""

from datetime import timedelta

from ansible_collections.vmops.datacenter.plugins.module_utils._scom import (
    ScomClient,
    ScomError,
    ScomModule,
    format_time,
    is_guid,
    parse_time,
    utc_now,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._scom_ops import DEFAULT_REASON, REASONS

SLACK = timedelta(minutes=1)


class ScomMaintenanceModule(ScomModule):
    def __init__(self):
        spec = dict(
            objects=dict(type="list", elements="str", required=True, aliases=["object", "names"]),
            class_name=dict(type="str", default="Microsoft.Windows.Computer"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            reason=dict(type="str", choices=list(REASONS)),
            comment=dict(type="str"),
            duration=dict(type="int"),
            end_time=dict(type="str"),
        )
        super().__init__(spec, supports_check_mode=True, mutually_exclusive=[("duration", "end_time")],
                         required_if=[("state", "present", ("duration", "end_time"), True)])
        params = self.params
        if not params["objects"]:
            self.module.fail_json(msg="objects must name at least one monitoring object.")
        self.end = None
        if params["state"] == "present":
            if params["duration"] is not None:
                if params["duration"] <= 0:
                    self.module.fail_json(msg="duration must be greater than zero, got %s." % params["duration"])
                self.end = utc_now() + timedelta(minutes=params["duration"])
            else:
                try:
                    self.end = parse_time(params["end_time"])
                except ValueError:
                    self.module.fail_json(msg="end_time must be an ISO 8601 time, got %r." % params["end_time"])
                if self.end <= utc_now():
                    self.module.fail_json(msg="end_time %s is not in the future." % params["end_time"])
            self.result["end_time"] = format_time(self.end)

    def client(self, runner):
        return ScomClient(runner, self.params["class_name"])

    def resolve(self, client):
        """(requested, object) pairs in the order asked for; fails naming every object SCOM does not know."""
        wanted = self.params["objects"]
        ids = [w for w in wanted if is_guid(w)]
        names = [w for w in wanted if not is_guid(w)]
        found = []
        if names:
            found.extend(client.list_objects(names=names))
        if ids:
            found.extend(client.list_objects(ids=[i.strip("{}") for i in ids]))
        pairs, missing, seen = [], [], set()
        for want in wanted:
            if is_guid(want):
                hits = [o for o in found if o["id"].lower() == want.strip("{}").lower()]
            else:
                hits = [o for o in found if (o.get("display_name") or "").lower() == want.lower()]
            if not hits:
                missing.append(want)
            for hit in hits:
                if hit["id"] not in seen:
                    seen.add(hit["id"])
                    pairs.append((want, hit))
        if missing:
            raise ScomError("SCOM has no %s object %s; nothing was changed." % (
                self.params["class_name"], ", ".join(missing)), target=missing, text="The monitoring object was not found.")
        return pairs

    def plan(self, obj):
        params = self.params
        window = obj.get("maintenance") if obj.get("in_maintenance") else None
        if params["state"] == "absent":
            return ("stop", None) if window else ("none", None)
        if window is None:
            after = dict(start_time=None, end_time=format_time(self.end), reason=params["reason"] or DEFAULT_REASON,
                         comment=params["comment"] or "", user=None)
            return "start", after
        current = parse_time(window["end_time"]) if window.get("end_time") else None
        if current is not None and current + SLACK >= self.end:
            return "none", window
        after = dict(window, end_time=format_time(self.end))
        if params["reason"]:
            after["reason"] = params["reason"]
        if params["comment"] is not None:
            after["comment"] = params["comment"]
        return "extend", after

    def work(self, client):
        params = self.params
        entries = []
        for requested, obj in self.resolve(client):
            before = obj.get("maintenance") if obj.get("in_maintenance") else None
            action, after = self.plan(obj)
            entries.append(dict(id=obj["id"], display_name=obj.get("display_name"), requested=requested,
                                action=action, before=before, after=after if action != "none" else before,
                                error=None))
        self.result["objects"] = entries
        todo = [e for e in entries if e["action"] != "none"]
        self.result["changed"] = bool(todo)
        if not todo or self.module.check_mode:
            self.set_diff(entries)
            return
        answers = {}
        for action in ("start", "extend", "stop"):
            ids = [e["id"] for e in todo if e["action"] == action]
            if not ids:
                continue
            if action == "start":
                items = client.start_maintenance(ids, self.end, params["reason"], params["comment"])
            elif action == "extend":
                items = client.update_maintenance(ids, self.end, params["reason"], params["comment"])
            else:
                items = client.stop_maintenance(ids)
            answers.update((item["id"], item) for item in items)
        for entry in todo:
            item = answers.get(entry["id"]) or {}
            entry["after"] = item.get("maintenance") if item.get("in_maintenance") else None
            if item.get("error"):
                entry["error"] = item["error"].get("message")
        self.set_diff(entries)
        failed = [e for e in todo if e["error"]]
        if failed:
            first = failed[0]
            others = " (and %d more failed)" % (len(failed) - 1) if len(failed) > 1 else ""
            raise ScomError("%s %s (%s): %s%s" % (first["action"], first["display_name"], first["id"], first["error"],
                                                  others), target=first["id"], text=first["error"])

    def set_diff(self, entries):
        if self.module._diff:
            self.result["diff"] = dict(
                before=dict(objects=dict((e["display_name"], e["before"]) for e in entries)),
                after=dict(objects=dict((e["display_name"], e["after"]) for e in entries)))


def main():
    module = ScomMaintenanceModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
