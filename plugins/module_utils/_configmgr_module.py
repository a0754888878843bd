# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Base for the collection's ConfigMgr modules: shared options with CONFIGMGR_* fallbacks, one
client per run, clean failures.

Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.vmops.datacenter.plugins.module_utils._configmgr import (
    AUTH_METHODS,
    HAS_REQUESTS,
    HAS_SPNEGO,
    REQUESTS_IMPORT_ERROR,
    SPNEGO_IMPORT_ERROR,
    ConfigMgrClient,
    ConfigMgrError,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._psrp import psrp_argument_spec

# The site server's PowerShell session has variables of its own: the VMOPS_PSRP_* ones usually name
# the VMM server, which a job that patches Hyper-V hosts uses at the same time.
PSRP_ENV_PREFIX = "CONFIGMGR_PSRP_"


def configmgr_argument_spec():
    """Connection options; documented by the vmops.datacenter.configmgr doc fragment."""
    return dict(
        server=dict(type="str", required=True, aliases=["hostname", "sms_provider"],
                    fallback=(env_fallback, ["CONFIGMGR_SERVER"])),
        port=dict(type="int", fallback=(env_fallback, ["CONFIGMGR_PORT"])),
        username=dict(type="str", required=True, aliases=["user"], fallback=(env_fallback, ["CONFIGMGR_USERNAME"])),
        password=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["CONFIGMGR_PASSWORD"])),
        auth=dict(type="str", default="negotiate", choices=list(AUTH_METHODS),
                  fallback=(env_fallback, ["CONFIGMGR_AUTH"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["CONFIGMGR_VALIDATE_CERTS"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["CONFIGMGR_CA_PATH"])),
        timeout=dict(type="int", default=60, fallback=(env_fallback, ["CONFIGMGR_TIMEOUT"])),
        retries=dict(type="int", default=5, fallback=(env_fallback, ["CONFIGMGR_RETRIES"])),
    )


def psrp_option_spec():
    """The ``psrp`` option: PowerShell remoting to the site server, for what the AdminService cannot do
    reliably. The runner's options without the jump-box ones, with CONFIGMGR_PSRP_* fallbacks; ``server``
    defaults to the SMS Provider. Documented by the vmops.datacenter.configmgr.PSRP fragment."""
    options = psrp_argument_spec(env_prefix=PSRP_ENV_PREFIX)
    for name in ("vmm_server", "vmm_username", "vmm_password"):
        del options[name]
    options["server"]["required"] = False
    return dict(type="dict", apply_defaults=True, options=options,
                required_together=[("certificate_pem", "certificate_key_pem")])


def wait_argument_spec(default_timeout=600, default_poll=5.0):
    """wait / wait_timeout / poll_interval; documented by the vmops.datacenter.configmgr.wait fragment."""
    return dict(
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=default_timeout),
        poll_interval=dict(type="float", default=default_poll),
    )


class ConfigMgrModule:
    """AnsibleModule plus a ConfigMgrClient; ``run(work)`` is the whole life of a module."""

    def __init__(self, argument_spec, **kwargs):
        spec = configmgr_argument_spec()
        spec.update(argument_spec)
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.result = dict(changed=False)
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        if not HAS_SPNEGO and self.params["auth"] != "basic":
            self.module.fail_json(msg=missing_required_lib("pyspnego"), exception=str(SPNEGO_IMPORT_ERROR))
        for name in ("wait_timeout", "poll_interval", "timeout"):
            if self.params.get(name) is not None and self.params[name] <= 0:
                self.module.fail_json(msg="%s must be greater than zero, got %s." % (name, self.params[name]))

    def new_client(self):
        p = self.params
        return ConfigMgrClient(p["server"], p["username"], p["password"], auth=p["auth"], port=p["port"],
                               validate_certs=p["validate_certs"], ca_path=p["ca_path"], timeout=p["timeout"],
                               retries=p["retries"])

    def run(self, work):
        """Call ``work(client)`` with a fresh client, then exit with ``self.result``."""
        try:
            with self.new_client() as client:
                work(client)
        except ConfigMgrError as exc:
            payload = dict(self.result)
            payload.pop("msg", None)
            payload["configmgr_error"] = exc.as_dict()
            self.module.fail_json(msg=str(exc), **payload)
        self.module.exit_json(**self.result)

    def fail(self, msg, **details):
        """A user-facing failure that is not an API error (bad input, unknown object)."""
        payload = dict(self.result)
        payload.update(details)
        payload.pop("msg", None)
        self.module.fail_json(msg=msg, **payload)

    def set_diff(self, before, after):
        if self.module._diff:
            self.result["diff"] = dict(before=before, after=after)
