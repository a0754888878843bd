# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of the win_updates test double: the rounds of search/download/install and the restarts between
them, and the returned counts, as ansible.windows' own win_updates action plugin does them (its documented results,
its retry after one restart on a failure, its update-loop detection). The module keeps each host's state."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.validation import check_type_bool, check_type_int
from ansible.plugins.action import ActionBase

MODULE = "ansible.windows.win_updates"
SUCCEEDED = 2
# A few of the WUA HRESULT names the real plugin turns into messages.
WUA_ERRORS = {
    0x80240022: ("WU_E_ALL_UPDATES_FAILED", "Operation failed for all the updates"),
    0x80240016: ("WU_E_INSTALL_NOT_ALLOWED", "Operation tried to install while another installation was in progress or "
                                             "the system was pending a mandatory restart"),
    0x80240034: ("WU_E_DOWNLOAD_FAILED", "Update failed to download"),
    0x8024401C: ("WU_E_PT_HTTP_STATUS_REQUEST_TIMEOUT", "Same as HTTP status 408 - the server timed out waiting for the "
                                                        "request"),
}


def hresult_message(code):
    name, text = WUA_ERRORS.get(code & 0xFFFFFFFF, ("UNKNOWN", "Unknown WUA HRESULT %s" % code))
    return "%s (%s 0x%08X)" % (text, name, code & 0xFFFFFFFF)


class ActionModule(ActionBase):

    _VALID_ARGS = frozenset(("accept_list", "category_names", "log_path", "reboot", "skip_optional", "reboot_timeout",
                             "reject_list", "server_selection", "state", "maximum_retries_on_failed_updates"))

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        super().run(tmp, task_vars)
        task_vars = task_vars or {}
        try:
            reboot = check_type_bool(self._task.args.get("reboot", False))
            check_type_int(self._task.args.get("reboot_timeout", 1200))
        except TypeError as e:
            raise AnsibleActionFail("Invalid value for reboot or reboot_timeout: %s" % e) from e
        host = task_vars.get("inventory_hostname")
        self._task_vars = task_vars
        self._updates, self._filtered, self._selected = {}, {}, []
        self._downloads, self._installs = {}, {}

        result = self._run_sync(host, dict(self._task.args), reboot)
        result.update(found_update_count=0, failed_update_count=0, installed_update_count=0, updates={},
                      filtered_updates={})
        for update_id in self._selected:
            info = self._info(update_id)
            result["updates"][update_id] = info
            result["found_update_count"] += 1
            if "failure_hresult_code" in info:
                result["failed_update_count"] += 1
            elif info["installed"]:
                result["installed_update_count"] += 1
        for update_id, reasons in self._filtered.items():
            result["filtered_updates"][update_id] = dict(self._info(update_id), filtered_reasons=reasons)
        return result

    def _module(self, args, host, **options):
        return self._execute_module(module_name=MODULE, task_vars=self._task_vars,
                                    module_args=dict(args, _operation="start", _operation_options=dict(options, host=host)))

    def _run_sync(self, host, args, reboot):
        result = {"changed": False, "reboot_required": False, "rebooted": False}
        attempted = set()
        rebooted_on_failure = False
        loops = 0
        while True:
            round_result = self._module(args, host)
            if "search_result" not in round_result:
                # The module itself failed (bad options, no state): its answer is the task's.
                return dict(round_result, failed=True)
            for info in round_result["search_result"]["updates"]:
                self._updates[info["id"]] = info
            filtered = {f["id"]: f["reasons"] for f in round_result["search_result"]["filtered"]}
            self._filtered.update(filtered)
            self._selected += [u["id"] for u in round_result["search_result"]["updates"]
                               if u["id"] not in filtered and u["id"] not in self._selected]
            self._downloads.update((r["id"], r) for r in round_result["download_result"])
            self._installs.update((r["id"], r) for r in round_result["install_result"])

            # The same updates installed again after a restart: rolled back, or WUA misreporting a failure.
            current = {r["id"] for r in round_result["install_result"]}
            if current and not current - attempted:
                loops += 1
            attempted |= current
            if loops >= int(args.get("maximum_retries_on_failed_updates", 1)):
                for update_id in current:
                    self._installs[update_id].update(result_code=4, hresult=-1)
                return dict(result, failed=True, msg="An update loop was detected, this could be caused by an update being "
                            "rolled back during a reboot or the Windows Update API incorrectly reporting a failed update "
                            "as being successful. Updates in the reboot loop are: %s" % ", ".join(sorted(current)))

            reboot_required = result["reboot_required"] = round_result["reboot_required"]
            result["changed"] = result["changed"] or round_result["changed"]
            if round_result["failed"]:
                # A failure may be a restart owed by an earlier install: with reboot, restart once before giving up.
                if reboot and not rebooted_on_failure and args.get("state") != "searched":
                    reboot_required = rebooted_on_failure = True
                else:
                    return dict(result, failed=True, msg=round_result["msg"])
            elif reboot:
                rebooted_on_failure = False

            if reboot_required and reboot:
                if not self._task.check_mode:
                    self._module(args, host, restart=True)
                result.update(rebooted=True, changed=True, reboot_required=False)

            if not reboot or self._task.check_mode or args.get("state", "installed") != "installed" or (
                    not reboot_required and not [u for u in round_result["search_result"]["updates"]
                                                 if u["id"] not in filtered]):
                return result

    def _info(self, update_id):
        raw = self._updates[update_id]
        info = {"title": raw["title"], "kb": [k[2:] if k.startswith("KB") else k for k in raw["kb"]],
                "categories": raw["categories"], "id": update_id, "downloaded": False, "installed": False}
        for key, results in (("downloaded", self._downloads), ("installed", self._installs)):
            outcome = results.get(update_id)
            if outcome:
                if outcome["result_code"] == SUCCEEDED:
                    info[key] = True
                else:
                    info["failure_hresult_code"] = outcome["hresult"]
                    info["failure_msg"] = hresult_message(outcome["hresult"])
        return info
