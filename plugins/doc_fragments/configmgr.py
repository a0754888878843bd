# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection options shared by every ConfigMgr (AdminService) module.
    DOCUMENTATION = r"""
options:
  server:
    description:
      - Name of the ConfigMgr SMS Provider that runs the AdminService, optionally with C(:port).
      - The module talks to C(https://<server>/AdminService/wmi/) and C(https://<server>/AdminService/v1.0/).
      - If not set, the value of the E(CONFIGMGR_SERVER) environment variable is used.
    type: str
    required: true
    aliases: [hostname, sms_provider]
  port:
    description:
      - HTTPS port of the AdminService when it is not 443 and O(server) carries no port.
      - If not set, the value of the E(CONFIGMGR_PORT) environment variable is used.
    type: int
  username:
    description:
      - Account of a ConfigMgr administrative user, as C(DOMAIN\user) or C(user@domain).
      - If not set, the value of the E(CONFIGMGR_USERNAME) environment variable is used.
    type: str
    required: true
    aliases: [user]
  password:
    description:
      - Password of O(username). Never shown in output, errors or traces.
      - If not set, the value of the E(CONFIGMGR_PASSWORD) environment variable is used.
    type: str
    required: true
  auth:
    description:
      - How to authenticate.
      - V(negotiate) is Windows integrated authentication (SPNEGO; Kerberos when the controller has a
        Kerberos set-up for pyspnego, otherwise NTLM), what the AdminService expects.
      - V(ntlm) forces NTLM.
      - V(basic) sends the password with every request and works only where the server was set up to
        allow Basic authentication.
      - If not set, the value of the E(CONFIGMGR_AUTH) environment variable is used.
    type: str
    choices: [negotiate, ntlm, basic]
    default: negotiate
  validate_certs:
    description:
      - Verify the server's TLS certificate. Keep this on; use O(ca_path) to trust the site's CA or its
        self-signed certificate.
      - If not set, the value of the E(CONFIGMGR_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file (or directory of hashed certificates) of the CA that signed the SMS Provider's certificate.
      - If not set, the value of the E(CONFIGMGR_CA_PATH) environment variable is used, else the system trust store.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP connection and response.
      - If not set, the value of the E(CONFIGMGR_TIMEOUT) environment variable is used.
    type: int
    default: 60
  retries:
    description:
      - How many times to repeat a request that is safe to repeat after a connection failure or
        HTTP 429/502/503/504, with capped, jittered exponential backoff.
      - Requests whose repetition could do something twice (creating a collection, notifying clients)
        are repeated only when they provably never reached the server.
      - If not set, the value of the E(CONFIGMGR_RETRIES) environment variable is used.
    type: int
    default: 5
attributes:
  action_group:
    description: Use C(group/vmops.datacenter.configmgr) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - vmops.datacenter.configmgr
requirements:
  - requests
  - pyspnego (for O(auth=negotiate) and O(auth=ntlm))
notes:
  - All connection options can be set once for a play with C(module_defaults) and the action group
    C(group/vmops.datacenter.configmgr).
  - The account needs a ConfigMgr security role that allows the operation; the AdminService applies the
    same role-based administration as the console.
"""

    WAIT = r"""
options:
  wait:
    description:
      - Wait until the site shows the result (for example a collection's evaluated membership).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait when O(wait=true). On timeout the module fails and says what it still waited for;
        the site may still finish the work.
    type: int
    default: 600
  poll_interval:
    description:
      - Seconds between two polls.
    type: float
    default: 5.0
"""


def _psrp_option():
    """The ``psrp`` option of the modules that need PowerShell on the site server, made from the
    PowerShell remoting options (vmops.datacenter.psrp) so both stay alike: the same suboptions
    without the jump-box ones, CONFIGMGR_PSRP_* instead of VMOPS_PSRP_* variables, references
    written as O(psrp.<name>)."""
    import re

    import yaml

    from ansible_collections.vmops.datacenter.plugins.doc_fragments.psrp import ModuleDocFragment as Psrp

    options = yaml.safe_load(Psrp.DOCUMENTATION)["options"]
    for name in ("vmm_server", "vmm_username", "vmm_password"):
        del options[name]
    names = "|".join(sorted(options, key=len, reverse=True))
    reference = re.compile(r"O\((%s)\b" % names)
    for option in options.values():
        option["description"] = [reference.sub(r"O(psrp.\1", line).replace("E(VMOPS_PSRP_", "E(CONFIGMGR_PSRP_")
                                 for line in option["description"]]
    options["server"] = dict(type="str", description=[
        "Name or address of the Windows server the PowerShell session runs on: the site server or SMS Provider "
        "with the ConfigMgr console installed (the C(ConfigurationManager) module comes with the console).",
        "If not set, the value of the E(CONFIGMGR_PSRP_SERVER) environment variable is used, else the host of "
        "O(server).",
    ])
    options["username"]["description"][1] = (
        "When neither O(psrp.username) nor its variable is set, O(username) and O(password) are used.")
    options["configuration_name"]["description"][0] = (
        "PowerShell session configuration (endpoint). The default is the Windows PowerShell 5.1 endpoint, which the "
        "ConfigurationManager module needs.")
    return dict(
        description=[
            "PowerShell remoting (WS-Man/PSRP) to the site server, for what the AdminService cannot do reliably "
            "(creating and removing deployments). The session imports the C(ConfigurationManager) module and "
            "works on the site's drive.",
            "Opened only when something has to change; a run that changes nothing uses the AdminService alone.",
            "Each suboption falls back to its C(CONFIGMGR_PSRP_*) environment variable, not to the "
            "C(VMOPS_PSRP_*) variables of the VMM and SCOM modules (they name another server).",
        ],
        type="dict", suboptions=options)


def _psrp_fragment():
    import yaml

    text = yaml.safe_dump(dict(psrp=_psrp_option()), sort_keys=False, width=120)
    return "options:\n" + "".join("  " + line + "\n" for line in text.splitlines())


# Used as the vmops.datacenter.configmgr.PSRP fragment.
ModuleDocFragment.PSRP = _psrp_fragment()
