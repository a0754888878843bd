#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: configmgr_collection_member
short_description: Add or remove devices as direct members of a ConfigMgr collection
version_added: 0.1.0
description:
  - Adds direct membership rules for many devices to a Configuration Manager (ConfigMgr) device collection, or
    removes them, in one AdminService call, then asks the site to evaluate the collection and, optionally, waits
    until the evaluated membership shows the change.
  - A collection's membership changes only when the site evaluates it; until then a new rule is not a member. With
    O(wait=true) the task returns once the evaluated membership matches, so the next task (a client notification,
    a compliance check) sees the devices in the collection.
  - Devices are named by their NetBIOS name or FQDN (the part before the first dot is compared, without regard to
    case). Every device must be known to the site exactly once; otherwise the task fails before changing anything.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  collection:
    description:
      - The device collection, by name or CollectionID.
    type: str
    required: true
  devices:
    description:
      - Names of the devices.
    type: list
    elements: str
    required: true
    aliases: [device, names]
  state:
    description:
      - V(present) for every device to have a direct rule in the collection, V(absent) for none of them to have one.
      - Only direct rules are managed; a device that is a member through a query or include rule stays a member.
    type: str
    choices: [present, absent]
    default: present
  refresh:
    description:
      - Ask the site to evaluate the collection (C(RequestRefresh)) after the rules changed, or when O(wait=true)
        and the evaluated membership does not show the rules yet.
    type: bool
    default: true
extends_documentation_fragment:
  - vmops.datacenter.configmgr
  - vmops.datacenter.configmgr.WAIT
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
    details: Reads the collection and the devices and returns the plan (RV(devices[].action)), changes nothing.
  diff_mode:
    support: full
notes:
  - With O(state=present) and O(wait=true), a device that is not a member of the limiting collection can never
    become a member; the task fails before changing anything and names it.
  - A re-run with the rules in place changes nothing (C(changed=false)); with O(wait=true) it still waits for the
    evaluation of a previous run that did not wait, and may ask for one (RV(refreshed)).
seealso:
  - module: vmops.datacenter.configmgr_collection
  - name: AddMembershipRules method in class SMS_Collection
    description: The WMI method behind the rules this module adds.
    link: https://learn.microsoft.com/mem/configmgr/develop/reference/core/clients/collections/addmembershiprules-method-in-class-sms_collection
"""

EXAMPLES = r"""
- name: Put the host into the patch collection and wait for the site to evaluate it
  vmops.datacenter.configmgr_collection_member:
    server: cm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ configmgr_password }}"
    collection: Hyper-V patch
    devices: ["{{ inventory_hostname }}"]
    wait_timeout: 900
  delegate_to: localhost

- name: Take several hosts out, without waiting
  vmops.datacenter.configmgr_collection_member:
    server: cm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ configmgr_password }}"
    collection: LAB00011
    devices: [hv-prod-01, hv-prod-02.example.com]
    state: absent
    wait: false
  delegate_to: localhost
"""

RETURN = r"""
collection:
  description: The collection (C(collection_id), C(name), C(limit_to_collection_id)).
  returned: always
  type: dict
devices:
  description: One entry per device, in the order of O(devices).
  returned: always
  type: list
  elements: dict
  contains:
    requested:
      description: The entry of O(devices) that named the device.
      type: str
    name:
      description: The device name as ConfigMgr knows it.
      type: str
      sample: HV-PROD-01
    resource_id:
      description: ResourceID of the device.
      type: int
      sample: 16777220
    action:
      description: C(add), C(remove) or C(none).
      type: str
    member:
      description: Whether the device is an evaluated member of the collection when the task ends (in check mode,
        now).
      type: bool
members:
  description: ResourceIDs of the collection's evaluated members when the task ends.
  returned: always
  type: list
  elements: int
refreshed:
  description: Whether the task asked the site to evaluate the collection.
  returned: always
  type: bool
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._configmgr import ALL_SYSTEMS, DIRECT_RULE_TYPE
from ansible_collections.vmops.datacenter.plugins.module_utils._configmgr_module import (
    ConfigMgrModule,
    wait_argument_spec,
)


class CollectionMemberModule(ConfigMgrModule):
    def __init__(self):
        spec = dict(
            collection=dict(type="str", required=True),
            devices=dict(type="list", elements="str", required=True, aliases=["device", "names"]),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            refresh=dict(type="bool", default=True),
        )
        spec.update(wait_argument_spec())
        super().__init__(spec, supports_check_mode=True)
        if not [d for d in self.params["devices"] if d and d.strip()]:
            self.module.fail_json(msg="devices must name at least one device.")

    def resolve_devices(self, client):
        """(requested, device) pairs; fails naming devices the site does not know or knows twice."""
        wanted = [d.strip() for d in self.params["devices"] if d and d.strip()]
        found = client.find_devices(wanted)
        missing = [w for w in wanted if not found[w]]
        twice = ["%s (ResourceIDs %s)" % (w, ", ".join(str(d["ResourceID"]) for d in found[w]))
                 for w in wanted if len(found[w]) > 1]
        if missing or twice:
            problems = []
            if missing:
                problems.append("unknown to the site: %s" % ", ".join(missing))
            if twice:
                problems.append("known more than once: %s (remove the stale records)" % "; ".join(twice))
            self.fail("Devices %s. Nothing was changed." % "; ".join(problems), missing=missing)
        pairs, seen = [], set()
        for w in wanted:
            device = found[w][0]
            if device["ResourceID"] not in seen:
                seen.add(device["ResourceID"])
                pairs.append((w, device))
        return pairs

    def work(self, client):
        params = self.params
        coll = client.collection(params["collection"])
        if coll is None:
            self.fail("ConfigMgr has no collection %r; nothing was changed." % params["collection"])
        self.result["collection"] = dict(collection_id=coll["CollectionID"], name=coll["Name"],
                                         limit_to_collection_id=coll.get("LimitToCollectionID"))
        pairs = self.resolve_devices(client)
        ruled = set(int(r["ResourceID"]) for r in coll.get("CollectionRules") or []
                    if str(r.get("@odata.type", DIRECT_RULE_TYPE)).endswith("SMS_CollectionRuleDirect") and "ResourceID" in r)
        members = client.members(coll["CollectionID"])
        present = params["state"] == "present"
        entries = []
        for requested, device in pairs:
            rid = int(device["ResourceID"])
            if present:
                action = "none" if rid in ruled else "add"
            else:
                action = "remove" if rid in ruled else "none"
            entries.append(dict(requested=requested, name=device["Name"], resource_id=rid, action=action,
                                member=rid in members))
        if present and params["wait"]:
            self.check_limit(client, coll, entries)
        self.result.update(devices=entries, members=members, refreshed=False)
        todo = [e for e in entries if e["action"] != "none"]
        self.result["changed"] = bool(todo)
        before = sorted(ruled)
        after = sorted(ruled | set(e["resource_id"] for e in entries)) if present else sorted(
            ruled - set(e["resource_id"] for e in entries))
        self.set_diff(dict(direct_rules=before), dict(direct_rules=after))
        if self.check_mode:
            return
        devices = [dict(Name=e["name"], ResourceID=e["resource_id"]) for e in todo]
        if todo and present:
            client.add_direct_rules(coll["CollectionID"], devices)
        elif todo:
            client.delete_direct_rules(coll["CollectionID"], devices)
        ids = [e["resource_id"] for e in entries]
        settled = set(ids) <= set(members) if present else not (set(ids) & set(members))
        if params["refresh"] and (todo or (params["wait"] and not settled)):
            client.request_refresh(coll["CollectionID"])
            self.result["refreshed"] = True
        if params["wait"] and not (settled and not todo):
            members = client.wait_for_members(coll["CollectionID"], present=ids if present else (),
                                              absent=() if present else ids, wait_timeout=params["wait_timeout"],
                                              poll_interval=params["poll_interval"])
        self.result["members"] = members
        for entry in entries:
            entry["member"] = entry["resource_id"] in members

    def check_limit(self, client, coll, entries):
        limit = coll.get("LimitToCollectionID")
        if not limit or limit.upper() == ALL_SYSTEMS:
            return
        allowed = set(client.members(limit))
        outside = [e["name"] for e in entries if e["resource_id"] not in allowed]
        if outside:
            one = len(outside) == 1
            self.fail("%s %s not in %s, the limiting collection of %s, so no rule can make %s a member; nothing was "
                      "changed." % (", ".join(outside), "is" if one else "are", limit, coll["Name"],
                                    "it" if one else "them"), devices=entries)


def main():
    module = CollectionMemberModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
