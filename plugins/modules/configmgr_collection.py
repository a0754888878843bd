#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: configmgr_collection
short_description: Create or delete a ConfigMgr device collection
version_added: 0.1.0
description:
  - Makes sure a Configuration Manager (ConfigMgr) device collection exists, limited to a given collection, or does
    not exist, through the AdminService REST API (C(SMS_Collection)).
  - Collection names are unique in a site and compared without regard to case, as the site does.
  - Membership is managed with M(vmops.datacenter.configmgr_collection_member).
author:
  - vmops.datacenter maintainers (@vmops)
options:
  name:
    description:
      - Name of the collection.
    type: str
    required: true
  state:
    description:
      - V(present) for the collection to exist, V(absent) for it not to.
    type: str
    choices: [present, absent]
    default: present
  limiting_collection:
    description:
      - The collection that limits the members of this one, by name or CollectionID.
      - Used when the collection is created. An existing collection limited to another collection is not
        changed; the task fails and says so (delete and create it again to change the limit).
    type: str
    default: SMS00001
  comment:
    description:
      - Comment of the collection when it is created. The comment of an existing collection is left as it is; a
        warning says when it differs.
    type: str
extends_documentation_fragment:
  - vmops.datacenter.configmgr
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
    details: Reads the collection and returns what would be done (RV(action)), changes nothing.
  diff_mode:
    support: full
notes:
  - A collection that limits other collections, or that a deployment targets, cannot be deleted; the site's refusal
    is reported with its error message.
  - Built-in collections (C(SMS...)) cannot be deleted.
seealso:
  - module: vmops.datacenter.configmgr_collection_member
  - name: SMS_Collection server WMI class
    description: The class behind the AdminService route this module uses.
    link: https://learn.microsoft.com/mem/configmgr/develop/reference/core/clients/collections/sms_collection-server-wmi-class
"""

EXAMPLES = r"""
- name: The collection the patch deployment targets
  vmops.datacenter.configmgr_collection:
    server: cm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ configmgr_password }}"
    name: Hyper-V patch
    limiting_collection: All Systems
    comment: Hosts being patched now
  delegate_to: localhost

- name: No more holding collection
  vmops.datacenter.configmgr_collection:
    server: cm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ configmgr_password }}"
    name: Hyper-V holding
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
action:
  description: C(create), C(delete) or C(none).
  returned: always
  type: str
  sample: create
collection:
  description: The collection after the task (as planned in check mode), or null when it does not exist.
  returned: always
  type: dict
  contains:
    collection_id:
      description: CollectionID (null for a collection check mode would create).
      type: str
      sample: LAB00011
    name:
      description: Name.
      type: str
    comment:
      description: Comment.
      type: str
    limit_to_collection_id:
      description: CollectionID of the limiting collection.
      type: str
      sample: SMS00001
    limit_to_collection_name:
      description: Name of the limiting collection.
      type: str
      sample: All Systems
    member_count:
      description: Members as of the last evaluation.
      type: int
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._configmgr_module import ConfigMgrModule


def shape(row):
    """The compact result of an SMS_Collection row (or None)."""
    if not row:
        return None
    return dict(collection_id=row.get("CollectionID"), name=row.get("Name"), comment=row.get("Comment") or "",
                limit_to_collection_id=row.get("LimitToCollectionID"),
                limit_to_collection_name=row.get("LimitToCollectionName"), member_count=row.get("MemberCount", 0))


class CollectionModule(ConfigMgrModule):
    def __init__(self):
        super().__init__(dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            limiting_collection=dict(type="str", default="SMS00001"),
            comment=dict(type="str"),
        ), supports_check_mode=True)
        if not self.params["name"].strip():
            self.module.fail_json(msg="name must not be empty.")

    def work(self, client):
        params = self.params
        hits = client.find_collections(params["name"])
        if len(hits) > 1:
            ids = ", ".join(h["CollectionID"] for h in hits)
            self.fail("%d collections are named %r (%s)." % (len(hits), params["name"], ids))
        current = hits[0] if hits else None
        if params["state"] == "absent":
            self.absent(client, current)
        else:
            self.present(client, current)

    def absent(self, client, current):
        self.result.update(action="delete" if current else "none", collection=None)
        self.set_diff(shape(current), None)
        if not current:
            return
        self.result["changed"] = True
        if not self.check_mode:
            client.delete_collection(current["CollectionID"])

    def present(self, client, current):
        params = self.params
        limit = client.collection(params["limiting_collection"])
        if limit is None:
            self.fail("The limiting collection %r does not exist; nothing was changed." % params["limiting_collection"])
        if current:
            if current.get("LimitToCollectionID", "").upper() != limit["CollectionID"].upper():
                self.fail("Collection %r (%s) is limited to %s (%s), not to %s (%s); the limiting collection of an "
                          "existing collection is not changed. Delete it (state=absent) and create it again." % (
                              current["Name"], current["CollectionID"], current.get("LimitToCollectionName"),
                              current.get("LimitToCollectionID"), limit["Name"], limit["CollectionID"]),
                          collection=shape(current))
            if params["comment"] is not None and params["comment"] != (current.get("Comment") or ""):
                self.module.warn("Collection %r keeps its comment %r; comment is used only when creating it." % (
                    current["Name"], current.get("Comment") or ""))
            self.result.update(action="none", collection=shape(current))
            self.set_diff(shape(current), shape(current))
            return
        planned = dict(collection_id=None, name=params["name"], comment=params["comment"] or "",
                       limit_to_collection_id=limit["CollectionID"], limit_to_collection_name=limit["Name"],
                       member_count=0)
        self.result.update(changed=True, action="create", collection=planned)
        self.set_diff(None, planned)
        if self.check_mode:
            return
        created = client.create_collection(params["name"], limit["CollectionID"], params["comment"] or "")
        self.result["collection"] = shape(created)
        self.set_diff(None, self.result["collection"])


def main():
    module = CollectionModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
