#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: configmgr_client_action
short_description: Send a client notification (policy refresh, update evaluation, restart) to ConfigMgr clients
version_added: 0.1.0
description:
  - Asks the ConfigMgr clients of a collection, or some of its members, to do something now through client
    notification (C(SMS_ClientOperation.InitiateClientOperation)), the console's "Client Notification" actions.
  - Typical use after a device joined a deployment's target collection, download the computer policy
    (O(action=machine_policy)) and evaluate software update deployments (O(action=software_update_evaluation)), so
    the client learns of the deployment without waiting for its polling interval.
  - A notification is a one-shot action, not a state, so every run that sends one reports C(changed).
author:
  - vmops.datacenter maintainers (@vmops)
options:
  collection:
    description:
      - The collection to notify, by name or CollectionID. The devices of O(devices) must be evaluated members of it.
    type: str
    required: true
  devices:
    description:
      - Only notify these members of O(collection) (NetBIOS name or FQDN). Default is every member.
    type: list
    elements: str
  action:
    description:
      - What the clients are to do.
      - V(machine_policy) downloads the computer policy, V(user_policy) the user policy.
      - V(software_update_evaluation) evaluates software update deployments (scan and install what is due).
      - V(application_evaluation) evaluates application deployments.
      - V(discovery_data), V(software_inventory), V(hardware_inventory) collect and send that data.
      - V(switch_software_update_point) moves the client to the next software update point.
      - V(restart) restarts the device, V(wake_up) sends a wake-up.
    type: str
    required: true
    choices: [machine_policy, user_policy, discovery_data, software_inventory, hardware_inventory,
              application_evaluation, software_update_evaluation, switch_software_update_point, restart, wake_up]
extends_documentation_fragment:
  - vmops.datacenter.configmgr
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
    details: Resolves the collection and the devices and returns what would be sent; sends nothing.
  diff_mode:
    support: none
notes:
  - Clients that are offline (for example restarting) do not receive a notification; ConfigMgr does not queue it.
  - A notification is not repeated automatically after a connection failure that may have reached the site.
seealso:
  - module: vmops.datacenter.configmgr_collection_member
  - name: InitiateClientOperation method in class SMS_ClientOperation
    description: The WMI method this module calls.
    link: https://learn.microsoft.com/mem/configmgr/develop/reference/protect/initiateclientoperation-method-in-class-sms_clientoperation
"""

EXAMPLES = r"""
- name: Tell the host about the deployment now
  vmops.datacenter.configmgr_client_action:
    server: cm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ configmgr_password }}"
    collection: Hyper-V patch
    devices: ["{{ inventory_hostname }}"]
    action: "{{ item }}"
  loop: [machine_policy, software_update_evaluation]
  delegate_to: localhost

- name: Restart a host that waits for a restart to finish its updates
  vmops.datacenter.configmgr_client_action:
    server: cm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ configmgr_password }}"
    collection: Hyper-V patch
    devices: [hv-prod-02]
    action: restart
  delegate_to: localhost
"""

RETURN = r"""
operation_id:
  description: The OperationID the site gave the notification (null in check mode).
  returned: always
  type: int
  sample: 16777217
type:
  description: The client operation type sent (8 computer policy, 14 software update evaluation, 17 restart, ...).
  returned: always
  type: int
  sample: 8
collection:
  description: The collection notified (C(collection_id), C(name)).
  returned: always
  type: dict
devices:
  description: The devices notified (C(name), C(resource_id)); empty when the whole collection was.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.vmops.datacenter.plugins.module_utils._configmgr import CLIENT_ACTIONS
from ansible_collections.vmops.datacenter.plugins.module_utils._configmgr_module import ConfigMgrModule


class ClientActionModule(ConfigMgrModule):
    def __init__(self):
        super().__init__(dict(
            collection=dict(type="str", required=True),
            devices=dict(type="list", elements="str"),
            action=dict(type="str", required=True, choices=list(CLIENT_ACTIONS)),
        ), supports_check_mode=True)

    def work(self, client):
        params = self.params
        coll = client.collection(params["collection"])
        if coll is None:
            self.fail("ConfigMgr has no collection %r; nothing was sent." % params["collection"])
        self.result.update(collection=dict(collection_id=coll["CollectionID"], name=coll["Name"]), devices=[],
                           type=CLIENT_ACTIONS[params["action"]], operation_id=None)
        targets = []
        if params["devices"]:
            wanted = [d.strip() for d in params["devices"] if d and d.strip()]
            found = client.find_devices(wanted)
            problems = [w for w in wanted if len(found[w]) != 1]
            if problems:
                self.fail("Devices unknown to the site or known more than once: %s. Nothing was sent." % (
                    ", ".join(problems)))
            members = set(client.members(coll["CollectionID"]))
            targets = []
            for w in wanted:
                device = found[w][0]
                entry = dict(name=device["Name"], resource_id=int(device["ResourceID"]))
                if entry not in targets:
                    targets.append(entry)
            outside = [t["name"] for t in targets if t["resource_id"] not in members]
            if outside:
                self.fail("%s %s not an evaluated member of %s (%s); nothing was sent. Add with "
                          "configmgr_collection_member (wait=true) first." % (
                              ", ".join(outside), "is" if len(outside) == 1 else "are", coll["Name"],
                              coll["CollectionID"]))
        self.result.update(devices=targets, changed=True)
        if self.check_mode:
            return
        self.result["operation_id"] = client.client_operation(
            CLIENT_ACTIONS[params["action"]], coll["CollectionID"], [t["resource_id"] for t in targets])


def main():
    module = ClientActionModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
