# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection options shared by the VMM and SCOM modules (PowerShell remoting with pypsrp).
    DOCUMENTATION = r"""
options:
  server:
    description:
      - Name or address of the Windows server the PowerShell session runs on, usually the VMM (or SCOM
        management) server itself.
      - If not set, the value of the E(VMOPS_PSRP_SERVER) environment variable is used.
    type: str
    required: true
  port:
    description:
      - WinRM port. Unset uses 5986 with O(ssl=true) and 5985 without.
      - If not set, the value of the E(VMOPS_PSRP_PORT) environment variable is used.
    type: int
  ssl:
    description:
      - Connect over HTTPS.
      - If not set, the value of the E(VMOPS_PSRP_SSL) environment variable is used.
    type: bool
    default: true
  auth:
    description:
      - Authentication protocol. V(negotiate) uses Kerberos when the controller has a ticket or keytab and falls
        back to NTLM.
      - V(kerberos) needs the C(pypsrp[kerberos]) extra and a krb5 configuration, V(credssp) the C(pypsrp[credssp])
        extra, V(certificate) O(certificate_pem) and O(certificate_key_pem) and HTTPS.
      - V(basic) is for labs and simulators; over plain HTTP it needs O(encryption=never).
      - If not set, the value of the E(VMOPS_PSRP_AUTH) environment variable is used.
    type: str
    default: negotiate
    choices: [negotiate, kerberos, ntlm, credssp, certificate, basic]
  username:
    description:
      - User to log in as, for example C(LAB\\svc-ansible) or C(svc-ansible@LAB.LOCAL).
      - Unset with V(negotiate) or V(kerberos) uses the controller's Kerberos ticket.
      - If not set, the value of the E(VMOPS_PSRP_USERNAME) environment variable is used.
    type: str
  password:
    description:
      - Password of O(username). Never shown in output, errors or traces.
      - If not set, the value of the E(VMOPS_PSRP_PASSWORD) environment variable is used.
    type: str
  certificate_pem:
    description:
      - Client certificate (PEM) for O(auth=certificate).
      - If not set, the value of the E(VMOPS_PSRP_CERTIFICATE_PEM) environment variable is used.
    type: path
  certificate_key_pem:
    description:
      - Private key (PEM) of O(certificate_pem).
      - If not set, the value of the E(VMOPS_PSRP_CERTIFICATE_KEY_PEM) environment variable is used.
    type: path
  validate_certs:
    description:
      - Verify the server's TLS certificate. Keep this on; use O(ca_path) to trust a private CA.
      - If not set, the value of the E(VMOPS_PSRP_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA that signed the server's WinRM certificate.
      - If not set, the value of the E(VMOPS_PSRP_CA_PATH) environment variable is used, else the system trust store.
    type: path
  encryption:
    description:
      - WinRM message encryption. V(auto) encrypts over HTTP with NTLM, Kerberos or CredSSP and relies on TLS
        over HTTPS. V(never) is needed for O(auth=basic) over HTTP (lab only).
      - If not set, the value of the E(VMOPS_PSRP_ENCRYPTION) environment variable is used.
    type: str
    default: auto
    choices: [auto, always, never]
  configuration_name:
    description:
      - PowerShell session configuration (endpoint). The default is the Windows PowerShell 5.1 endpoint,
        which the VirtualMachineManager and OperationsManager modules need; they do not load in PowerShell 7.
      - If not set, the value of the E(VMOPS_PSRP_CONFIGURATION_NAME) environment variable is used.
    type: str
    default: Microsoft.PowerShell
  operation_timeout:
    description:
      - Seconds the server holds one WS-Man request open before answering that it has no data yet; the
        runner then asks again, so this does not limit how long an operation may run.
      - If not set, the value of the E(VMOPS_PSRP_OPERATION_TIMEOUT) environment variable is used.
    type: int
    default: 20
  connection_timeout:
    description:
      - Seconds to wait for the TCP connection to the WinRM listener.
      - If not set, the value of the E(VMOPS_PSRP_CONNECTION_TIMEOUT) environment variable is used.
    type: int
    default: 30
  retries:
    description:
      - How many times to repeat a read operation after a transient fault (connection reset, HTTP 502/503/504,
        VMM error 1600), with capped, jittered exponential backoff. Operations that change something are never
        repeated.
      - If not set, the value of the E(VMOPS_PSRP_RETRIES) environment variable is used.
    type: int
    default: 3
  vmm_server:
    description:
      - The management server to connect to from the PowerShell session, when O(server) is a jump box with the
        console installed rather than the management server itself. Unset connects to C(localhost).
      - If not set, the value of the E(VMOPS_PSRP_VMM_SERVER) environment variable is used.
    type: str
  vmm_username:
    description:
      - User for the connection from the jump box to O(vmm_server) (second hop). Requires O(vmm_password).
      - If not set, the value of the E(VMOPS_PSRP_VMM_USERNAME) environment variable is used.
    type: str
  vmm_password:
    description:
      - Password of O(vmm_username). Sent as a SecureString PSRP parameter, never in script text or output.
      - If not set, the value of the E(VMOPS_PSRP_VMM_PASSWORD) environment variable is used.
    type: str
requirements:
  - pypsrp >= 0.9 on the host that runs the module (usually the controller).
notes:
  - One PowerShell runspace pool is opened per task, the management module is imported and the
    server connected once, and the pool is always closed, also on failure.
  - Script arguments travel as PSRP parameters, never formatted into script text.
  - Production should use O(auth=negotiate) or O(auth=kerberos) over HTTPS (port 5986) with certificate
    validation. The collection's lab and simulator use O(auth=basic) over HTTP or HTTPS with the lab CA in O(ca_path).
  - Double hop. Credentials that reach the session over NTLM, or Kerberos without delegation, cannot be used for a
    further network hop. Run against the VMM server itself (the default, connecting to C(localhost)); the VMM
    service then uses its own Run As accounts for hosts and no delegation is needed. For a jump box, set
    O(vmm_server) with O(vmm_username) and O(vmm_password) (an explicit credential for the second hop), or use
    O(auth=credssp), or Kerberos constrained delegation.
  - All connection options can be set once for a play with C(module_defaults) and the action group.
"""

    ACTIONGROUP_VMM = r"""
attributes:
  action_group:
    description: Use C(group/vmops.datacenter.vmm) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - vmops.datacenter.vmm
"""
