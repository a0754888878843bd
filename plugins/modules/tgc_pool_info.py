#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tgc_pool_info
short_description: List Tintri VMstore pools and their current recommendations from Tintri Global Center
version_added: 0.1.0
description:
  - Lists the VMstore pools of a Tintri Global Center (TGC), with their member VMstores and, for each pool,
    the current VM scale-out recommendation.
  - A recommendation is returned in one compact shape that always has every key, also when the API leaves
    parts out; its issues (per VMstore), VM moves and expected outcomes are summarised, including whether
    accepting it would stop the replication of some VMs.
  - Tintri Global Center only. Aimed at a VMstore, the module fails before reading any pool and says to point
    O(hostname) at the Tintri Global Center.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  pool:
    description:
      - Exact name of one VMstore pool. All pools when not set.
      - A name that matches no pool returns an empty RV(pools) list, not an error.
    type: str
  include_recommendation:
    description:
      - Read each pool's current recommendation (one more request per pool).
      - With V(false), RV(pools[].recommendation) is V(null).
    type: bool
    default: true
  raw:
    description:
      - Also return the objects exactly as the API sent them, in RV(pools[].raw).
    type: bool
    default: false
  query:
    description:
      - A JMESPath expression applied to the result (the dictionary with RV(pools) and RV(count));
        its value is returned in RV(query_result).
      - For example V(pools[?recommendation.state=='AVAILABLE'].name) gives the names of pools with a
        recommendation waiting to be accepted.
      - Needs the C(jmespath) Python library on the host that runs the module.
    type: str
extends_documentation_fragment:
  - vmops.datacenter.tintri
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.INFO_MODULE
  - vmops.datacenter.attributes.ACTIONGROUP_TINTRI
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
notes:
  - TGC produces recommendations on a schedule (by default at 6 am and 6 pm), also when a pool needs none;
    RV(pools[].recommendation.state) then is C(NO_RECOMMENDATION_NEEDED).
  - The request count is 3 (discovery, login, logout) plus one per page of pools plus, with
    O(include_recommendation=true), one per pool.
seealso:
  - module: vmops.datacenter.tgc_recommendation
"""

EXAMPLES = r"""
- name: Every pool and its current recommendation
  vmops.datacenter.tgc_pool_info:
    hostname: tgc.example.com
    username: automation
    password: "{{ tgc_password }}"
  delegate_to: localhost
  register: pools

- name: Pools with a recommendation waiting, and what it would move
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.recommendation.vms_moved }} VM(s) for {{ item.recommendation.issue_types | join(', ') }}"
  loop: "{{ pools.pools | selectattr('recommendation.state', 'in', ['AVAILABLE', 'AVAILABLE_ACKED']) }}"
  loop_control:
    label: "{{ item.name }}"

- name: One pool, only the names of VMs that would lose replication
  vmops.datacenter.tgc_pool_info:
    pool: gold
    query: "pools[0].recommendation.protection_loss_vms"
  delegate_to: localhost
  register: gold

- name: Pool names and members only
  vmops.datacenter.tgc_pool_info:
    include_recommendation: false
  delegate_to: localhost
"""

RETURN = r"""
pools:
  description: The VMstore pools, in the order the server lists them.
  returned: always
  type: list
  elements: dict
  contains:
    uuid:
      description: Pool id.
      type: str
    name:
      description: Pool name.
      type: str
      sample: gold
    description:
      description: Pool description.
      type: str
    members:
      description: The pool's VMstores.
      type: list
      elements: dict
      contains:
        uuid:
          description: Id of the VMstore in TGC.
          type: str
        hostname:
          description: Host name of the VMstore.
          type: str
    issue_type_preference:
      description: Issue types the pool prefers to balance for (C(SPACE), C(IOPS), C(FLASH), C(PROTECTION)).
      type: list
      elements: str
    recommendation:
      description:
        - The pool's current recommendation; V(null) with O(include_recommendation=false) or when it could not
          be read (see RV(pools[].recommendation_error)).
      type: dict
      contains:
        id:
          description: Recommendation id.
          type: str
        pool_uuid:
          description: Id of the pool.
          type: str
        state:
          description:
            - C(AVAILABLE), C(AVAILABLE_ACKED), C(ACCEPTED), C(CANCELLED), C(INVALIDATED), C(EXPIRED), C(REFRESH),
              C(NO_RECOMMENDATION_NEEDED) (the pool is balanced) or C(NO_RECOMMENDATION_AVAILABLE).
          type: str
          sample: AVAILABLE
        state_reason:
          description: Why it is invalid or unavailable, for example C(UNAVAILABLE_NO_SUITABLE_VMS_TO_MOVE).
          type: str
        execution_state:
          description:
            - Progress once accepted, C(AVAILABLE) before, then C(PENDING), C(RUNNING), C(RUNNING_ERROR),
              C(COMPLETED_OK), C(COMPLETED_FAILED), C(CANCELLED_PENDING) or C(COMPLETED_CANCELLED).
          type: str
        creation_time:
          description: When TGC produced it.
          type: str
        acknowledged_time:
          description: When it was acknowledged.
          type: str
        accepted_time:
          description: When it was accepted.
          type: str
        completion_time:
          description: When its execution ended.
          type: str
        expiration_time:
          description: When it expires if not accepted.
          type: str
        last_updated_time:
          description: When TGC last changed it.
          type: str
        issue_types:
          description: Sorted issue types found over all its issues (C(SPACE), C(IOPS), C(FLASH)).
          type: list
          elements: str
          sample: [IOPS, SPACE]
        issues:
          description:
            - One entry per VMstore analysed (a 7-day prediction). Each of RV(pools[].recommendation.issues[].space),
              RV(pools[].recommendation.issues[].iops) and RV(pools[].recommendation.issues[].flash) is V(null)
              when the API reports no such issue for the VMstore.
          type: list
          elements: dict
          contains:
            vmstore:
              description: VMstore display name (its id when the API gives no name).
              type: str
            vmstore_id:
              description: VMstore id.
              type: str
            summary:
              description: Summary text from TGC.
              type: str
            selected:
              description: Whether the VMstore is selected for balancing.
              type: bool
            types:
              description: Issue types present for this VMstore.
              type: list
              elements: str
            space:
              description:
                - Space issue - C(type), C(summary), C(severity), C(selected), C(disabled), C(space_used_physical_gib),
                  C(space_used_physical_percent), C(space_used_physical_change_gib_per_week), C(space_threshold_percent),
                  C(probability).
              type: dict
            iops:
              description:
                - Load issue - C(type), C(summary), C(severity), C(selected), C(disabled), C(total_iops),
                  C(throughput_total_mbps), C(latency_storage_ms), C(load_threshold_percent), C(percent_of_week_under_load).
              type: dict
            flash:
              description:
                - Flash issue - C(type), C(summary), C(severity), C(selected), C(disabled), C(flash_hit_rate_percent),
                  C(flash_hit_rate_percent_minimum), C(flash_hit_rate_percent_maximum), C(flash_hit_rate_threshold_percent),
                  C(latency_flash_ms).
              type: dict
        issues_by_type:
          description: The same issue details grouped by type (C(SPACE), C(IOPS), C(FLASH)), each with C(vmstore) and C(vmstore_id).
          type: dict
        action_groups:
          description: VM moves; groups run one after the other, the moves of a group in parallel.
          type: list
          elements: dict
          contains:
            actions:
              description:
                - One VM move each - C(vm) (display name, the VM id when the API gives none), C(vm_uuid),
                  C(source_datastore), C(source_datastore_uuid), C(destination_datastore), C(destination_datastore_uuid),
                  C(issue_types) (may be empty), C(state), C(progress) and C(error) (V(null), or C(category),
                  C(summary) and C(detail)).
              type: list
              elements: dict
        vms_moved:
          description: Number of VM moves over all action groups.
          type: int
        expected_outcomes:
          description:
            - Predicted result per VMstore - C(vmstore), C(vmstore_id), C(summary), and C(space), C(iops), C(flash),
              C(protection), each V(null) when absent. C(protection) lists in C(vm_uuids) the VMs whose replication
              would stop.
          type: list
          elements: dict
        loses_protection:
          description: Whether accepting would stop the replication of some VMs.
          type: bool
        protection_loss_vms:
          description: Ids of the VMs whose replication would stop.
          type: list
          elements: str
    recommendation_error:
      description: Why the recommendation could not be read; the module warns and goes on with the other pools.
      type: str
      returned: when the server refused to return the pool's recommendation
    raw:
      description: The API objects as received, C(pool) and C(recommendation).
      type: dict
      returned: when O(raw=true)
server:
  description: The Tintri Global Center that answered.
  returned: always
  type: dict
  contains:
    hostname:
      description: Host name (and port) as given in O(hostname).
      type: str
    product:
      description: Product name from C(/api/info).
      type: str
      sample: Tintri Global Center
    api_version:
      description: API version used for the session.
      type: str
      sample: v310.191
count:
  description: Number of pools returned.
  returned: always
  type: int
  sample: 2
query_result:
  description: The value of O(query) over this result.
  returned: when O(query) is set
  type: raw
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._common import (
    apply_query,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tgc import (
    find_pools,
    normalise_recommendation,
    pool_summary,
    recommendation_path,
    require_tgc,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri import (
    TintriApiError,
    uuid_of,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_module import (
    TintriModule,
)


class PoolInfoModule(TintriModule):
    def __init__(self):
        spec = dict(
            pool=dict(type="str"),
            include_recommendation=dict(type="bool", default=True),
            raw=dict(type="bool", default=False),
            query=dict(type="str"),
        )
        super().__init__(spec, supports_check_mode=True)

    def work(self, client):
        params = self.params
        require_tgc(client)
        pools = []
        for pool in find_pools(client, params["pool"]):
            pool_uuid = uuid_of(pool)
            reco = norm = error = None
            if params["include_recommendation"]:
                try:
                    reco = client.get(recommendation_path(pool_uuid))
                    norm = normalise_recommendation(reco, pool_uuid)
                except TintriApiError as exc:
                    error = str(exc)
                    self.module.warn("Pool %s: the current recommendation could not be read: %s" % (
                        pool.get("name"), error))
            summary = pool_summary(pool, norm)
            if error:
                summary["recommendation_error"] = error
            if params["raw"]:
                summary["raw"] = dict(pool=pool, recommendation=reco)
            pools.append(summary)
        self.result.update(pools=pools, count=len(pools),
                           server=dict(hostname=client.hostname, product=client.product, api_version=client.api_version))
        if params["query"]:
            self.result["query_result"] = apply_query(self.module, dict(pools=pools, count=len(pools)), params["query"])


def main():
    module = PoolInfoModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
