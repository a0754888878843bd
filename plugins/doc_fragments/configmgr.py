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
