#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: configmgr_collection_info
short_description: ConfigMgr device collections and their members
version_added: 0.1.0
description:
  - Reads Configuration Manager (ConfigMgr) device collections (C(SMS_Collection)) and the devices that are their
    evaluated members (C(SMS_FullCollectionMembership)) through the AdminService REST API.
  - Members are those of the collection's last evaluation, as the ConfigMgr console shows them; a direct rule added
    a moment ago counts only once the site has evaluated the collection.
  - The members of a collection such as "Hyper-V hosts to patch" are the input of the C(cluster_patch) runbook
    (C(cluster_patch_source_collection)).
author:
  - vmops.datacenter maintainers (@vmops)
options:
  name:
    description:
      - Collections to read, by name (compared without regard to case, as the site does) or by CollectionID.
      - Every one must exist, and a name must name exactly one collection; otherwise the task fails and names them.
      - Default is every device collection of the site.
    type: list
    elements: str
    aliases: [names, collections]
  members:
    description:
      - Whether to read the members of each collection (one more request per collection).
      - Without names, on a site with many collections, V(false) keeps the task short.
    type: bool
    default: true
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
  - module: vmops.datacenter.configmgr_collection
  - module: vmops.datacenter.configmgr_collection_member
  - name: SMS_FullCollectionMembership server WMI class
    description: The class behind the members this module reads.
    link: https://learn.microsoft.com/mem/configmgr/develop/reference/core/clients/collections/sms_fullcollectionmembership-server-wmi-class
"""

EXAMPLES = r"""
- name: The hosts of the collection the patch runbook works through
  vmops.datacenter.configmgr_collection_info:
    server: cm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ configmgr_password }}"
    name: VM Hosts in Building 44
    query: "collections[0].members[].name"
  register: building44
  delegate_to: localhost

- name: Every device collection with its member count, without reading the members
  vmops.datacenter.configmgr_collection_info:
    members: false
    query: "collections[].[name, member_count]"
  delegate_to: localhost
"""

RETURN = r"""
collections:
  description: The collections, in the order of O(name) (without O(name), by name).
  returned: always
  type: list
  elements: dict
  contains:
    collection_id:
      description: CollectionID.
      type: str
      sample: LAB00010
    name:
      description: Name.
      type: str
      sample: Hyper-V hosts to patch
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
      description: Members as of the last evaluation, as the site counts them.
      type: int
      sample: 7
    last_refresh_time:
      description: When the site last evaluated the collection (as the AdminService gives it).
      type: str
      sample: "2026-11-22T07:00:00Z"
    members:
      description: The evaluated members, by name; empty with O(members=false).
      type: list
      elements: dict
      contains:
        name:
          description: Device name (NetBIOS).
          type: str
          sample: HV-PROD-01
        resource_id:
          description: ResourceID.
          type: int
          sample: 16777220
        domain:
          description: Domain of the device.
          type: str
          sample: EXAMPLE
        direct:
          description: Whether a direct rule (rather than a query or an include rule) made it a member.
          type: bool
        client:
          description: Whether the device has the ConfigMgr client.
          type: bool
query_result:
  description: The value of O(query) over the result.
  returned: when O(query) is set
  type: raw
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._common import apply_query, check_query
from ansible_collections.vmops.datacenter.plugins.module_utils._configmgr import COLLECTION_ID, odata_string
from ansible_collections.vmops.datacenter.plugins.module_utils._configmgr_module import ConfigMgrModule

DEVICE_COLLECTION = 2


def shape(row, members):
    return dict(collection_id=row.get("CollectionID"), name=row.get("Name"), comment=row.get("Comment") or "",
                limit_to_collection_id=row.get("LimitToCollectionID") or None,
                limit_to_collection_name=row.get("LimitToCollectionName") or None,
                member_count=int(row.get("MemberCount") or 0), last_refresh_time=row.get("LastRefreshTime"),
                members=[dict(name=m.get("Name"), resource_id=int(m["ResourceID"]), domain=m.get("Domain"),
                              direct=bool(m.get("IsDirect")), client=bool(m.get("IsClient"))) for m in members])


class CollectionInfoModule(ConfigMgrModule):
    def __init__(self):
        super().__init__(dict(
            name=dict(type="list", elements="str", aliases=["names", "collections"]),
            members=dict(type="bool", default=True),
            query=dict(type="str"),
        ), supports_check_mode=True)
        check_query(self.module, self.params["query"])

    def find(self, client):
        """SMS_Collection rows in the order asked for; fails naming every unknown or ambiguous one."""
        wanted = [n.strip() for n in self.params["name"] or [] if n and n.strip()]
        if self.params["name"] is not None and not wanted:
            self.fail("name must name at least one collection.")
        if not wanted:
            return client.query("/wmi/SMS_Collection", filter="CollectionType eq %d" % DEVICE_COLLECTION,
                                orderby="Name")
        rows, unknown, ambiguous, seen = [], [], [], set()
        for ref in wanted:
            hits = []
            if COLLECTION_ID.match(ref):
                hits = client.query("/wmi/SMS_Collection", filter="CollectionID eq %s" % odata_string(ref.upper()))
            if not hits:
                hits = client.find_collections(ref)
            if not hits:
                unknown.append(ref)
            elif len(hits) > 1:
                ambiguous.append("%r (%s)" % (ref, ", ".join(h["CollectionID"] for h in hits)))
            elif hits[0]["CollectionID"] not in seen:
                seen.add(hits[0]["CollectionID"])
                rows.append(hits[0])
        if unknown or ambiguous:
            self.fail("ConfigMgr on %s: %s." % (client.server, "; ".join(p for p in (
                "no collection called %s" % ", ".join(repr(u) for u in unknown) if unknown else "",
                "more than one collection called %s; name them by CollectionID" % ", ".join(ambiguous)
                if ambiguous else "") if p)))
        return rows

    def work(self, client):
        collections = []
        for row in self.find(client):
            members = client.member_details(row["CollectionID"]) if self.params["members"] else []
            collections.append(shape(row, members))
        self.result["collections"] = collections
        if self.params["query"]:
            self.result["query_result"] = apply_query(self.module, dict(collections=collections), self.params["query"])


def main():
    module = CollectionInfoModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
