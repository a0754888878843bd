# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection options shared by every Tintri VMstore / Tintri Global Center module.
    DOCUMENTATION = r"""
options:
  hostname:
    description:
      - Name or address of the Tintri VMstore or Tintri Global Center, optionally with C(:port).
      - If not set, the value of the E(TINTRI_HOSTNAME) (or E(TINTRI_HOST)) environment variable is used.
    type: str
    required: true
    aliases: [host]
  username:
    description:
      - User to log in as. Read-only users can run the C(_info) modules.
      - If not set, the value of the E(TINTRI_USERNAME) environment variable is used.
    type: str
    required: true
    aliases: [user]
  password:
    description:
      - Password of O(username). Never shown in output, errors or traces.
      - If not set, the value of the E(TINTRI_PASSWORD) environment variable is used.
    type: str
    required: true
  validate_certs:
    description:
      - Verify the server's TLS certificate. Keep this on; use O(ca_path) to trust a private CA.
      - If not set, the value of the E(TINTRI_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file (or directory of hashed certificates) of the CA that signed the server certificate.
      - If not set, the value of the E(TINTRI_CA_PATH) environment variable is used, else the system trust store.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP connection and response.
      - If not set, the value of the E(TINTRI_TIMEOUT) environment variable is used.
    type: int
    default: 60
  retries:
    description:
      - How many times to repeat a request that is safe to repeat after a connection failure,
        HTTP 502/503/504 or a "busy, try again later" answer, with capped, jittered exponential backoff.
      - Requests that create objects are only repeated when they provably never reached the server.
      - If not set, the value of the E(TINTRI_RETRIES) environment variable is used.
    type: int
    default: 5
notes:
  - The module logs in once per run, with the API version the server prefers (from C(/api/info)),
    and always logs out, also on failure.
  - All connection options can be set once for a play with
    C(module_defaults) and the action group C(group/vmops.datacenter.tintri).
"""

    WAIT = r"""
options:
  wait:
    description:
      - Wait for the server's asynchronous task to finish before returning.
      - With V(false) the module returns as soon as the server has accepted the work; the result names the
        task so it can be followed up.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the task when O(wait=true). On timeout the module fails, names the task
        and its progress, and the task keeps running on the server.
    type: int
    default: 1800
  poll_interval:
    description:
      - Seconds between two polls of the task.
    type: float
    default: 2.0
"""
