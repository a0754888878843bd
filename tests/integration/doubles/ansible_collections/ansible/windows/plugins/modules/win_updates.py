#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import fcntl
import json
import os
import re

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: win_updates
short_description: Test double of ansible.windows.win_updates (simulated Windows Update per host)
description:
  - This is B(not) the ansible.windows collection. It is a test double of M(ansible.windows.win_updates) that lives in
    the vmops.datacenter test tree only, for integration tests on a machine without Windows hosts and without the real
    collection.
  - Its options and return values follow the documentation of M(ansible.windows.win_updates) (ansible.windows 2.x/3.x).
    Like the real module it works with an action plugin of the same name, which runs the search/download/install
    rounds, restarts the host when O(reboot=true) and an update asks for it, and builds the returned counts.
  - Each host's Windows Update state (applicable updates with their KBs and categories, injected failures, a pending
    restart, the number of restarts) is a JSON file named by the environment variable E(WIN_UPDATES_DOUBLE_STATE),
    keyed by inventory host name (see the README next to C(plugins/)).
options:
  accept_list:
    description: Update titles or KB numbers (regular expressions) an update must match to be selected.
    type: list
    elements: str
  category_names:
    description:
      - Categories to select updates from; C(*) matches every category. The camel-case names of the real module
        (C(SecurityUpdates)) are mapped to the Windows Update names (C(Security Updates)).
    type: list
    elements: str
    default: [CriticalUpdates, SecurityUpdates, UpdateRollups]
  skip_optional:
    description: Skip updates marked C(browse_only) in the state file.
    type: bool
    default: false
  maximum_retries_on_failed_updates:
    description: Rounds in which an update may be installed again before the action plugin reports an update loop.
    type: int
    default: 1
  reboot:
    description: Restart the host (in the state file) when an update requires it and continue with the next round.
    type: bool
    default: false
  reboot_timeout:
    description: Accepted like the real module; a simulated restart is immediate.
    type: int
    default: 1200
  server_selection:
    description: Accepted like the real module; the state file is the only update source.
    type: str
    choices: [default, managed_server, windows_update]
    default: default
  state:
    description: C(installed) installs the selected updates, C(downloaded) only downloads them, C(searched) only lists
      them. Check mode searches only.
    type: str
    choices: [installed, searched, downloaded]
    default: installed
  log_path:
    description: Accepted like the real module; nothing is written.
    type: path
  reject_list:
    description: Update titles or KB numbers (regular expressions) that exclude an update.
    type: list
    elements: str
  _operation:
    description: Internal use only (between the action plugin and the module).
    type: str
    choices: [start, cancel, poll, test]
    default: start
  _operation_options:
    description: Internal use only; the double's action plugin passes the inventory host name and restart requests.
    type: dict
author:
  - vmops.datacenter maintainers (@vmops)
"""

EXAMPLES = r"""
- name: Install security updates and restart as needed (through the action plugin)
  ansible.windows.win_updates:
    category_names: [SecurityUpdates]
    reboot: true
"""

RETURN = r"""
reboot_required:
  description: True when the host needs a restart to complete the updates.
  returned: success
  type: bool
rebooted:
  description: True when the host was restarted (set by the action plugin).
  returned: success
  type: bool
updates:
  description: Selected updates keyed by update id, with C(title), C(kb) (numbers without C(KB)), C(id),
    C(categories), C(downloaded), C(installed) and on failure C(failure_hresult_code) and C(failure_msg).
  returned: success
  type: dict
filtered_updates:
  description: Updates found but filtered, in the form of RV(updates) plus C(filtered_reasons).
  returned: success
  type: dict
found_update_count:
  description: Number of selected updates.
  returned: success
  type: int
installed_update_count:
  description: Number of updates installed (or downloaded with O(state=downloaded)).
  returned: success
  type: int
failed_update_count:
  description: Number of updates that failed.
  returned: always
  type: int
"""

STATE_ENV = "WIN_UPDATES_DOUBLE_STATE"
# The real module maps these camel-case names to the category names Windows Update uses.
CATEGORY_NAMES = {
    "CriticalUpdates": "Critical Updates", "DefinitionUpdates": "Definition Updates", "DeveloperKits": "Developer Kits",
    "FeaturePacks": "Feature Packs", "SecurityUpdates": "Security Updates", "ServicePacks": "Service Packs",
    "UpdateRollups": "Update Rollups",
}
# IUpdateInstallationResult.ResultCode values the real module reports.
SUCCEEDED, FAILED = 2, 4


def hresult(value):
    """An HRESULT from the state file ("0x80240022" or a number) as the unsigned integer the action plugin returns."""
    return (int(value, 0) if isinstance(value, str) else int(value)) & 0xFFFFFFFF


def in_list(update, patterns):
    names = [update["title"]] + ["KB%s" % kb for kb in update.get("kb", [])]
    return any(re.search(pattern, name, re.IGNORECASE) for pattern in patterns for name in names)


def select(host, params):
    """The search: what is applicable now, and why each filtered update was filtered (as the real module decides)."""
    categories = [CATEGORY_NAMES.get(c, c).lower() for c in params["category_names"] or []]
    accept = params["accept_list"] or []
    reject = params["reject_list"] or []
    found, filtered, selected = [], [], []
    for update in host.get("updates", []):
        if update.get("installed") or update.get("after_boots", 0) > host.get("boots", 0):
            continue
        found.append(update)
        reasons = []
        if accept and not in_list(update, accept):
            reasons.append("accept_list")
        if reject and in_list(update, reject):
            reasons.append("reject_list")
        if update.get("hidden"):
            reasons.append("hidden")
        if categories and "*" not in categories and not {c.lower() for c in update.get("categories", [])} & set(categories):
            reasons.append("category_names")
        if params["skip_optional"] and update.get("browse_only"):
            reasons.append("skip_optional")
        if reasons:
            filtered.append({"id": update["id"], "reasons": reasons})
        else:
            selected.append(update)
    return found, filtered, selected


def raw_info(update):
    return {"id": update["id"], "title": update["title"], "kb": ["KB%s" % kb for kb in update.get("kb", [])],
            "categories": list(update.get("categories", []))}


def run_round(module, host):
    """One round of the real module's background task: search, then download and install unless only searching."""
    params = module.params
    found, filtered, selected = select(host, params)
    host.setdefault("operations", []).append(
        {"operation": "search" if module.check_mode or params["state"] == "searched" else params["state"],
         "check_mode": module.check_mode, "selected": [u["id"] for u in selected]})
    out = {"changed": False, "failed": False, "reboot_required": bool(host.get("reboot_pending")),
           "search_result": {"updates": [raw_info(u) for u in found], "filtered": filtered},
           "download_result": [], "install_result": []}
    if module.check_mode or params["state"] == "searched" or not selected:
        out["changed"] = bool(selected) and params["state"] != "searched"
        return out
    if host.get("reboot_pending"):
        return dict(out, failed=True, msg="A reboot is required before more updates can be installed")

    out["changed"] = True
    for update in selected:
        failing = update.get("fail_hresult") and update.get("fail_phase", "install") == "download"
        out["download_result"].append({"id": update["id"], "result_code": FAILED if failing else SUCCEEDED,
                                       "hresult": hresult(update["fail_hresult"]) if failing else 0})
    if any(r["result_code"] != SUCCEEDED for r in out["download_result"]):
        return dict(out, failed=True, msg="Failed to download all updates - see updates for more information")
    if params["state"] == "downloaded":
        return out

    for update in selected:
        failing = bool(update.get("fail_hresult")) and update.get("fail_phase", "install") == "install"
        out["install_result"].append({"id": update["id"], "result_code": FAILED if failing else SUCCEEDED,
                                      "hresult": hresult(update["fail_hresult"]) if failing else 0,
                                      "reboot_required": bool(update.get("reboot_required")) and not failing})
        if not failing:
            update["installed"] = True
            host["reboot_pending"] = bool(host.get("reboot_pending") or update.get("reboot_required"))
    out["reboot_required"] = bool(host.get("reboot_pending"))
    if any(r["result_code"] != SUCCEEDED for r in out["install_result"]):
        return dict(out, failed=True, msg="Failed to install all updates - see updates for more information")
    return out


def restart(module, host):
    """A restart: the pending reboot clears and updates that wait for the next boot become applicable."""
    host["boots"] = host.get("boots", 0) + 1
    host["reboot_pending"] = False
    host.setdefault("operations", []).append({"operation": "reboot", "check_mode": module.check_mode})
    return {"changed": True, "failed": False}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            accept_list=dict(type="list", elements="str"),
            category_names=dict(type="list", elements="str", default=["CriticalUpdates", "SecurityUpdates", "UpdateRollups"]),
            skip_optional=dict(type="bool", default=False),
            maximum_retries_on_failed_updates=dict(type="int", default=1),
            reboot=dict(type="bool", default=False),
            reboot_timeout=dict(type="int", default=1200),
            server_selection=dict(type="str", choices=["default", "managed_server", "windows_update"], default="default"),
            state=dict(type="str", choices=["installed", "searched", "downloaded"], default="installed"),
            log_path=dict(type="path"),
            reject_list=dict(type="list", elements="str"),
            _operation=dict(type="str", choices=["start", "cancel", "poll", "test"], default="start"),
            _operation_options=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    options = module.params["_operation_options"] or {}
    path = os.environ.get(STATE_ENV)
    if not path or not options.get("host"):
        module.fail_json(msg="The win_updates test double runs through its action plugin with %s naming its state file"
                         % STATE_ENV)
    # Hosts of one round run side by side and share the file: one reader-writer at a time.
    with open(path + ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
        host = state.get("hosts", {}).get(options["host"])
        if host is None:
            module.fail_json(msg="The win_updates test double has no host %s in %s" % (options["host"], path))
        result = restart(module, host) if options.get("restart") else run_round(module, host)
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=2)
        os.replace(path + ".tmp", path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
