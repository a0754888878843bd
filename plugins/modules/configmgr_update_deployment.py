#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: configmgr_update_deployment
short_description: Deploy a ConfigMgr software update group to a collection, or remove the deployment
version_added: 0.1.0
description:
  - Makes sure a software update group is deployed to a device collection as a required deployment, with the
    given schedule, user notification and restart behaviour, or that it is not deployed to that collection.
  - The deployment is found by its update group and target collection, read through the AdminService REST API
    (C(SMS_UpdateGroupAssignment)). An existing deployment with the requested settings is left alone.
  - Creating and removing a deployment is not reliable through the REST API, so it runs the ConfigurationManager
    PowerShell module (C(New-CMSoftwareUpdateDeployment), C(Remove-CMSoftwareUpdateDeployment)) over PowerShell
    remoting on the site server (O(psrp)). That session is opened only when something has to change.
  - An existing deployment whose settings differ from the requested ones is not changed; the task fails, lists
    the differences (RV(differences)) and changes nothing. Remove it (O(state=absent)) and deploy again.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  update_group:
    description:
      - The software update group, by name (compared without regard to case) or CI_ID.
      - With O(state=present) it must exist; otherwise the task fails before changing anything.
    type: str
    required: true
  collection:
    description:
      - The target device collection, by name or CollectionID.
      - With O(state=present) it must exist; otherwise the task fails before changing anything.
    type: str
    required: true
  state:
    description:
      - V(present) for the update group to be deployed to the collection, V(absent) for no deployment of it to that
        collection (every such deployment is removed).
      - With O(state=absent), an update group or collection that does not exist means there is nothing to remove; a
        warning says so.
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - Name of the deployment when it is created. Unset uses C(<update group> - <collection>).
      - Compared with an existing deployment only when set.
    type: str
  available_time:
    description:
      - When the updates become available, as an ISO 8601 time (C(2026-11-22T18:00:00Z); a time without offset is
        UTC). Deployments are created with UTC times.
      - Unset makes a new deployment available now and is not compared with an existing one.
    type: str
  deadline:
    description:
      - Installation deadline, as an ISO 8601 time. Must not be earlier than the available time.
      - Unset makes a new deployment due as soon as it is available and is not compared with an existing one.
    type: str
  user_notification:
    description:
      - What users see. V(hide_all) (hide in Software Center and all notifications, usual for servers),
        V(software_center_only) (only restart notifications) or V(display_all).
      - Unset uses V(hide_all) for a new deployment and is not compared with an existing one.
    type: str
    choices: [display_all, software_center_only, hide_all]
  suppress_restart_servers:
    description:
      - Suppress the restart of servers that an update needs (the deployment's server restart suppression); the
        restart is then left to the runbook, for example after draining a cluster node.
      - Unset uses V(false) for a new deployment and is not compared with an existing one.
    type: bool
  allow_restart_outside_maintenance_window:
    description:
      - At the deadline, allow a needed restart outside maintenance windows.
      - Unset uses V(false) for a new deployment and is not compared with an existing one.
    type: bool
  allow_install_outside_maintenance_window:
    description:
      - At the deadline, allow the installation outside maintenance windows.
      - Unset uses V(false) for a new deployment and is not compared with an existing one.
    type: bool
  site_code:
    description:
      - Site code of the ConfigMgr site, used for the PowerShell site drive (C(Set-Location <site code>:)).
      - Unset uses the one site drive that importing the ConfigurationManager module creates on O(psrp.server).
      - If not set, the value of the E(CONFIGMGR_SITE_CODE) environment variable is used.
    type: str
extends_documentation_fragment:
  - vmops.datacenter.configmgr
  - vmops.datacenter.configmgr.PSRP
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
    details: Reads the update group, collection and deployments through the AdminService and returns the plan
      (RV(action)); opens no PowerShell session and changes nothing.
  diff_mode:
    support: full
notes:
  - The update group's content should be downloaded to a deployment package and distributed before clients can
    install it; this module only creates the deployment.
  - The PowerShell session needs the ConfigMgr console on O(psrp.server) and an account with a ConfigMgr role that
    may deploy software updates to the collection.
  - Group O(psrp) options in C(module_defaults) under this module's name, not under C(group/vmops.datacenter.configmgr)
    (the other modules of the group have no O(psrp) option), or use the C(CONFIGMGR_PSRP_*) variables.
seealso:
  - module: vmops.datacenter.configmgr_update_compliance_info
  - name: New-CMSoftwareUpdateDeployment
    description: The ConfigurationManager cmdlet that creates the deployment.
    link: https://learn.microsoft.com/powershell/module/configurationmanager/new-cmsoftwareupdatedeployment
"""

EXAMPLES = r"""
- name: Deploy this month's updates to the patch collection, restarts left to the runbook
  vmops.datacenter.configmgr_update_deployment:
    server: cm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ configmgr_password }}"
    site_code: P01
    update_group: Hyper-V hosts 2026-11
    collection: Hyper-V patch
    available_time: "2026-11-22T18:00:00Z"
    deadline: "2026-11-22T20:00:00Z"
    user_notification: hide_all
    suppress_restart_servers: true
    psrp:
      server: cmsite01.example.com
      ca_path: /etc/pki/tls/certs/corp-ca.pem
  delegate_to: localhost

- name: No more deployment of that group to the collection
  vmops.datacenter.configmgr_update_deployment:
    server: cm01.example.com
    username: EXAMPLE\svc-ansible
    password: "{{ configmgr_password }}"
    update_group: Hyper-V hosts 2026-11
    collection: Hyper-V patch
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
action:
  description: C(create), C(delete) or C(none).
  returned: always
  type: str
  sample: create
deployment:
  description:
    - The deployment after the task (as planned in check mode), or null when there is none.
    - With O(state=absent), null; RV(removed) lists what was removed.
  returned: always
  type: dict
  contains:
    assignment_id:
      description: AssignmentID (null for a deployment check mode would create).
      type: int
      sample: 16777301
    assignment_unique_id:
      description: AssignmentUniqueID, the deployment id of the ConfigMgr cmdlets.
      type: str
    name:
      description: Name of the deployment.
      type: str
    update_group_id:
      description: CI_ID of the software update group.
      type: int
    update_group_name:
      description: Name of the software update group.
      type: str
    collection_id:
      description: CollectionID of the target collection.
      type: str
    collection_name:
      description: Name of the target collection.
      type: str
    available_time:
      description: When the updates become available (ISO 8601).
      type: str
    deadline:
      description: Installation deadline (ISO 8601).
      type: str
    user_notification:
      description: C(display_all), C(software_center_only) or C(hide_all).
      type: str
    suppress_restart_servers:
      description: Whether restarts of servers are suppressed.
      type: bool
    allow_restart_outside_maintenance_window:
      description: Whether a restart may happen outside maintenance windows.
      type: bool
    allow_install_outside_maintenance_window:
      description: Whether installation may happen outside maintenance windows.
      type: bool
    enabled:
      description: Whether the deployment is enabled.
      type: bool
    updates:
      description: CI_IDs of the deployed updates (C(AssignedCIs)).
      type: list
      elements: int
differences:
  description: Settings of the existing deployment that differ from the requested ones, each with C(current) and
    C(requested). Empty when nothing differs.
  returned: when O(state=present)
  type: dict
  sample: {"deadline": {"current": "2026-11-22T20:00:00Z", "requested": "2026-11-23T20:00:00Z"}}
removed:
  description: The deployments removed with O(state=absent) (as planned in check mode).
  returned: when O(state=absent)
  type: list
  elements: dict
"""

from ansible.module_utils.basic import env_fallback

from ansible_collections.vmops.datacenter.plugins.module_utils._configmgr_module import (
    ConfigMgrModule,
    psrp_option_spec,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._psrp import (
    HAS_PYPSRP,
    PYPSRP_IMPORT_ERROR,
    PsrpError,
    runner_from_params,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._scom import format_time, parse_time, utc_now

# user_notification <-> the cmdlet's UserNotification <-> the class's (NotifyUser, UserUIExperience).
NOTIFICATIONS = {
    "display_all": ("DisplayAll", (True, True)),
    "software_center_only": ("DisplaySoftwareCenterOnly", (False, True)),
    "hide_all": ("HideAll", (False, False)),
}
SUPPRESS_SERVERS = 2  # SuppressReboot bit: 1 workstations, 2 servers
FLAGS = ("suppress_restart_servers", "allow_restart_outside_maintenance_window",
         "allow_install_outside_maintenance_window")


def notification_of(row):
    pair = (bool(row.get("NotifyUser")), bool(row.get("UserUIExperience")))
    return next((k for k, v in NOTIFICATIONS.items() if v[1] == pair), "display_all")


def provider_host(client):
    """The AdminService's host name without its port."""
    host = client.server
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.split(":")[0]


def same_time(text, when):
    if not text:
        return False
    try:
        return abs((parse_time(text) - when).total_seconds()) < 1
    except ValueError:
        return False


def shape(row, group, collection):
    """The compact result of an SMS_UpdateGroupAssignment row."""
    return dict(
        assignment_id=row.get("AssignmentID"), assignment_unique_id=row.get("AssignmentUniqueID"),
        name=row.get("AssignmentName"), update_group_id=row.get("AssignedUpdateGroup"),
        update_group_name=group.get("LocalizedDisplayName"), collection_id=row.get("TargetCollectionID"),
        collection_name=collection.get("Name"), available_time=row.get("StartTime"),
        deadline=row.get("EnforcementDeadline"), user_notification=notification_of(row),
        suppress_restart_servers=bool(int(row.get("SuppressReboot") or 0) & SUPPRESS_SERVERS),
        allow_restart_outside_maintenance_window=bool(row.get("RebootOutsideOfServiceWindows")),
        allow_install_outside_maintenance_window=bool(row.get("OverrideServiceWindows")),
        enabled=bool(row.get("Enabled", True)), updates=list(row.get("AssignedCIs") or []))


class UpdateDeploymentModule(ConfigMgrModule):
    def __init__(self):
        super().__init__(dict(
            update_group=dict(type="str", required=True),
            collection=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            name=dict(type="str"),
            available_time=dict(type="str"),
            deadline=dict(type="str"),
            user_notification=dict(type="str", choices=list(NOTIFICATIONS)),
            suppress_restart_servers=dict(type="bool"),
            allow_restart_outside_maintenance_window=dict(type="bool"),
            allow_install_outside_maintenance_window=dict(type="bool"),
            site_code=dict(type="str", fallback=(env_fallback, ["CONFIGMGR_SITE_CODE"])),
            psrp=psrp_option_spec(),
        ), supports_check_mode=True)
        params = self.params
        for name in ("update_group", "collection"):
            if not params[name].strip():
                self.module.fail_json(msg="%s must not be empty." % name)
        self.times = {}
        for name in ("available_time", "deadline"):
            if params[name] is not None:
                try:
                    self.times[name] = parse_time(params[name]).replace(microsecond=0)
                except ValueError:
                    self.module.fail_json(msg="%s must be an ISO 8601 time, got %r." % (name, params[name]))
        if "deadline" in self.times and self.times["deadline"] < self.times.get("available_time", self.times["deadline"]):
            self.module.fail_json(msg="deadline %s is earlier than available_time %s." % (
                params["deadline"], params["available_time"]))

    # -- reading ---------------------------------------------------------------------------------

    def work(self, client):
        params = self.params
        group = client.update_group(params["update_group"])
        collection = client.collection(params["collection"])
        missing = []
        if group is None:
            missing.append("software update group %r" % params["update_group"])
        if collection is None:
            missing.append("collection %r" % params["collection"])
        if params["state"] == "absent":
            if missing:
                self.module.warn("%s has no %s, so there is no deployment to remove." % (
                    client.label, " and no ".join(missing)))
                self.result.update(action="none", deployment=None, removed=[])
                self.set_diff(None, None)
                return
            self.absent(client, group, collection)
            return
        if missing:
            self.fail("%s has no %s; nothing was changed." % (client.label, " and no ".join(missing)))
        rows = client.group_deployments(group["CI_ID"], collection["CollectionID"])
        if len(rows) > 1:
            ids = ", ".join(str(r["AssignmentID"]) for r in rows)
            self.fail("Software update group %r is deployed %d times to collection %r (AssignmentID %s); which one is "
                      "meant is unclear. state=absent removes them all. Nothing was changed." % (
                          group["LocalizedDisplayName"], len(rows), collection["Name"], ids))
        self.present(client, group, collection, rows[0] if rows else None)

    # -- present ---------------------------------------------------------------------------------

    def requested(self, group, collection):
        """What a new deployment would be (times as sent, in UTC)."""
        params = self.params
        now = utc_now().replace(microsecond=0)
        available = self.times.get("available_time", now)
        deadline = self.times.get("deadline", max(available, now))
        row = dict(AssignmentID=None, AssignmentUniqueID=None, AssignedUpdateGroup=group["CI_ID"],
                   AssignmentName=params["name"] or "%s - %s" % (group["LocalizedDisplayName"], collection["Name"]),
                   TargetCollectionID=collection["CollectionID"], StartTime=format_time(available),
                   EnforcementDeadline=format_time(deadline), Enabled=True,
                   SuppressReboot=SUPPRESS_SERVERS if params["suppress_restart_servers"] else 0,
                   RebootOutsideOfServiceWindows=bool(params["allow_restart_outside_maintenance_window"]),
                   OverrideServiceWindows=bool(params["allow_install_outside_maintenance_window"]),
                   AssignedCIs=list(group.get("Updates") or []))
        notify, ui = NOTIFICATIONS[params["user_notification"] or "hide_all"][1]
        row.update(NotifyUser=notify, UserUIExperience=ui)
        return shape(row, group, collection)

    def differences(self, current):
        """{setting: {current, requested}} for every requested setting the existing deployment does not have."""
        params = self.params
        found = {}
        if params["name"] is not None and params["name"] != current["name"]:
            found["name"] = dict(current=current["name"], requested=params["name"])
        for name, key in (("available_time", "available_time"), ("deadline", "deadline")):
            if name in self.times and not same_time(current[key], self.times[name]):
                found[name] = dict(current=current[key], requested=format_time(self.times[name]))
        for name in ("user_notification",) + FLAGS:
            if params[name] is not None and params[name] != current[name]:
                found[name] = dict(current=current[name], requested=params[name])
        return found

    def present(self, client, group, collection, row):
        if row is not None:
            current = shape(row, group, collection)
            differences = self.differences(current)
            self.result.update(action="none", deployment=current, differences=differences)
            self.set_diff(current, current)
            if differences:
                listed = "; ".join("%s is %s, requested %s" % (k, v["current"], v["requested"])
                                   for k, v in differences.items())
                self.fail("Deployment %r (AssignmentID %s) of update group %r to collection %r differs: %s. An existing "
                          "deployment is not changed (the site does not change one reliably through its APIs); remove it "
                          "with state=absent and deploy again. Nothing was changed." % (
                              current["name"], current["assignment_id"], group["LocalizedDisplayName"],
                              collection["Name"], listed))
            return
        planned = self.requested(group, collection)
        self.result.update(changed=True, action="create", deployment=planned, differences={})
        self.set_diff(None, planned)
        if self.check_mode:
            return
        params = self.params
        args = dict(SoftwareUpdateGroupId=str(group["CI_ID"]), CollectionId=collection["CollectionID"],
                    DeploymentName=planned["name"], AvailableTime=planned["available_time"],
                    DeadlineTime=planned["deadline"],
                    UserNotification=NOTIFICATIONS[params["user_notification"] or "hide_all"][0])
        for flag, switch in zip(FLAGS, ("SuppressRestartServer", "AllowRestart", "AllowSoftwareInstallation"), strict=True):
            if params[flag]:
                args[switch] = True
        answer = self.powershell(client, "configmgr.update_deployment_new", **args)
        created = client.group_deployment(answer["assignment_id"])
        if created is None:
            self.fail("%s: deployment %s (AssignmentID %s) was created but the AdminService does not show it yet; "
                      "run again to check." % (client.label, answer.get("name"), answer["assignment_id"]),
                      changed=True)
        self.result["deployment"] = shape(created, group, collection)
        self.set_diff(None, self.result["deployment"])

    # -- absent ----------------------------------------------------------------------------------

    def absent(self, client, group, collection):
        rows = client.group_deployments(group["CI_ID"], collection["CollectionID"])
        current = [shape(r, group, collection) for r in rows]
        self.result.update(action="delete" if rows else "none", deployment=None, removed=current)
        self.set_diff(current[0] if len(current) == 1 else (current or None), None)
        if not rows:
            return
        self.result["changed"] = True
        if self.check_mode:
            return
        answers = self.powershell(client, "configmgr.update_deployment_remove",
                                  DeploymentId=[r["AssignmentUniqueID"] for r in rows])
        gone = set(a["deployment_id"] for a in answers if a.get("removed"))
        self.result["removed"] = [d for d in current if d["assignment_unique_id"] in gone]

    # -- PowerShell on the site server -------------------------------------------------------------

    def psrp_params(self, client):
        """The psrp options with the documented defaults: the SMS Provider's host and the AdminService account."""
        options = dict(self.params["psrp"])
        if not options.get("server"):
            options["server"] = provider_host(client)
        if options.get("username") is None and options.get("password") is None:
            options.update(username=self.params["username"], password=self.params["password"])
        return options

    def powershell(self, client, op, **args):
        """Run one catalogue operation in a session opened for it (connect first), closed afterwards."""
        if not HAS_PYPSRP:
            self.fail("The pypsrp Python library is needed on the controller to change deployments through the "
                      "ConfigurationManager module.", exception=str(PYPSRP_IMPORT_ERROR))
        # The site drive's root is the SMS Provider, the server that runs the AdminService.
        connect = dict(ProviderMachineName=provider_host(client))
        if self.params["site_code"]:
            connect["SiteCode"] = self.params["site_code"]
        runner = runner_from_params(self.psrp_params(client), "configmgr", connect=connect)
        try:
            with runner:
                answer = runner.run(op, **args)
        except PsrpError as exc:
            self.fail(str(exc), psrp_error=exc.as_dict())
        for warning in runner.warnings:
            self.module.warn(warning)
        return answer


def main():
    module = UpdateDeploymentModule()
    module.run(module.work)


if __name__ == "__main__":
    main()
