# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Base for the collection's Tintri modules: shared options, one session per run, clean failures.

Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.vmops.datacenter.plugins.module_utils._tintri import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    TintriClient,
    TintriError,
    TintriUnsupportedError,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_lookup import task_summary


def tintri_argument_spec():
    """Connection options; documented by the vmops.datacenter.tintri doc fragment."""
    return dict(
        hostname=dict(type="str", required=True, aliases=["host"],
                      fallback=(env_fallback, ["TINTRI_HOSTNAME", "TINTRI_HOST"])),
        username=dict(type="str", required=True, aliases=["user"], fallback=(env_fallback, ["TINTRI_USERNAME"])),
        password=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["TINTRI_PASSWORD"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["TINTRI_VALIDATE_CERTS"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["TINTRI_CA_PATH"])),
        timeout=dict(type="int", default=60, fallback=(env_fallback, ["TINTRI_TIMEOUT"])),
        retries=dict(type="int", default=5, fallback=(env_fallback, ["TINTRI_RETRIES"])),
    )


def vm_argument_spec(required=True):
    """vm (exact name) or vm_uuid; documented per module."""
    spec = dict(vm=dict(type="str", aliases=["vm_name"]), vm_uuid=dict(type="str"))
    rules = dict(mutually_exclusive=[("vm", "vm_uuid")])
    if required:
        rules["required_one_of"] = [("vm", "vm_uuid")]
    return spec, rules


def wait_argument_spec(default_timeout=1800):
    """wait / wait_timeout / poll_interval; documented by the vmops.datacenter.tintri.wait fragment."""
    return dict(
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=default_timeout),
        poll_interval=dict(type="float", default=2.0),
    )


class TintriModule:
    """AnsibleModule plus a Tintri session; ``run(work)`` is the whole life of a module."""

    def __init__(self, argument_spec, **kwargs):
        spec = tintri_argument_spec()
        spec.update(argument_spec)
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.result = dict(changed=False)
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        for name in ("wait_timeout", "poll_interval", "timeout"):
            if name in self.params and self.params[name] is not None and self.params[name] <= 0:
                self.module.fail_json(msg="%s must be greater than zero, got %s." % (name, self.params[name]))

    def new_client(self):
        params = self.params
        return TintriClient(params["hostname"], params["username"], params["password"],
                            validate_certs=params["validate_certs"], ca_path=params["ca_path"],
                            timeout=params["timeout"], retries=params["retries"])

    def run(self, work):
        """Log in, call ``work(client)``, log out (always), then exit with ``self.result``."""
        try:
            with self.new_client() as client:
                work(client)
        except TintriError as exc:
            self.fail_from(exc)
        self.module.exit_json(**self.result)

    def fail(self, msg, **details):
        """A user-facing failure that is not an API error (bad input, unknown object)."""
        payload = dict(self.result)
        payload.update(details)
        payload.pop("msg", None)
        self.module.fail_json(msg=msg, **payload)

    def fail_from(self, exc):
        payload = dict(self.result)
        payload.pop("msg", None)
        payload["tintri_error"] = exc.as_dict()
        task = getattr(exc, "task", None)
        if task:
            payload["task"] = task_summary(task)
        self.module.fail_json(msg=str(exc), **payload)

    def require_vmstore(self, client, operation, vm=None):
        """Stop before any change when a VMstore-only operation is aimed at a TGC."""
        if not client.is_tgc:
            return
        owner = ""
        if vm and vm.get("vmstoreName"):
            owner = " VM %r lives on VMstore %s; use that as hostname." % (
                (vm.get("vmware") or {}).get("name"), vm["vmstoreName"])
        raise TintriUnsupportedError(
            "%s is a Tintri Global Center; %s is a VMstore-only operation.%s" % (
                client.hostname, operation, owner), server=client.hostname)

    def set_diff(self, before, after):
        if self.module._diff:
            self.result["diff"] = dict(before=before, after=after)
