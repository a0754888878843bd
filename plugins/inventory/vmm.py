# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vmm
short_description: Hyper-V hosts (and optionally VMs) of System Center Virtual Machine Manager as inventory hosts
version_added: 0.1.0
author:
  - vmops.datacenter maintainers (@vmops)
description:
  - Lists the Hyper-V hosts that a System Center Virtual Machine Manager (VMM) server manages, over PowerShell
    remoting (PSRP), and makes each host an inventory host named after its fully qualified name (see O(host_names)).
  - Optionally (O(include_vms)) lists the virtual machines too, each an inventory host named after the VM.
  - One PowerShell runspace pool per inventory run, one host listing and, with O(include_vms), one VM listing,
    whatever the number of hosts and VMs.
  - Groups the hosts by cluster, by host group (nested like VMM's host group tree) and puts stand-alone hosts in a
    group of their own; groups the VMs by host, cluster and status (see O(group_by)). Every group name starts with
    O(group_prefix). Supports the C(constructed) features O(keyed_groups) (for example one group per custom property
    value), O(groups), O(compose) and O(strict).
  - Every string that comes from VMM is marked unsafe, so a VM name or custom property value containing Jinja is
    never templated.
  - "The inventory source is a YAML file whose name ends in C(vmm.yml) or C(vmm.yaml) (for example
    C(prod.vmm.yml)) and whose O(plugin) key names this plugin."
  - "Host variables of every Hyper-V host: C(vmm_type) (V(host)), C(vmm_id), C(vmm_fqdn), C(vmm_computer_name),
    C(vmm_cluster) (null for a stand-alone host), C(vmm_host_group) (the host group path, for example
    C(All Hosts\\Production)), C(vmm_in_maintenance), C(vmm_overall_state), C(vmm_available_for_placement),
    C(vmm_total_memory_mb), C(vmm_available_memory_mb), C(vmm_vm_count), C(vmm_running_vm_count) and C(vmm_server)
    (the VMM management server that answered)."
  - "Host variables of every VM (with O(include_vms)): C(vmm_type) (V(vm)), C(vmm_id), C(vmm_vm_name) (the name in
    VMM), C(vmm_computer_name), C(vmm_status) (V(Running), V(PowerOff), V(Saved), V(Paused)...), C(vmm_host) (the
    host's fully qualified name), C(vmm_cluster), C(vmm_host_group) (of its host), C(vmm_is_highly_available),
    C(vmm_memory_mb), C(vmm_custom_properties) (a dictionary of custom property name to value, legacy C(Custom1)
    to C(Custom10) included), C(vmm_last_restored_checkpoint_id) and C(vmm_server)."
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: Marks the file as an inventory source of this plugin.
    required: true
    type: str
    choices: [vmops.datacenter.vmm]
  server:
    description:
      - Name or address of the Windows server the PowerShell session runs on, usually the VMM server itself.
      - Required, here or in the environment. May be a Jinja template in this file.
    type: str
    env:
      - name: VMOPS_PSRP_SERVER
  port:
    description: WinRM port. Unset uses 5986 with O(ssl=true) and 5985 without.
    type: int
    env:
      - name: VMOPS_PSRP_PORT
  ssl:
    description: Connect over HTTPS.
    type: bool
    default: true
    env:
      - name: VMOPS_PSRP_SSL
  auth:
    description:
      - Authentication protocol, as for the collection's VMM modules. V(negotiate) uses Kerberos when the controller
        has a ticket and falls back to NTLM; V(basic) is for labs.
    type: str
    default: negotiate
    choices: [negotiate, kerberos, ntlm, credssp, certificate, basic]
    env:
      - name: VMOPS_PSRP_AUTH
  username:
    description:
      - User to log in as, for example C(EXAMPLE\\svc-ansible); a VMM read-only administrator is enough.
      - May be a Jinja template in this file. Unset with V(negotiate) or V(kerberos) uses the controller's Kerberos
        ticket.
    type: str
    env:
      - name: VMOPS_PSRP_USERNAME
  password:
    description:
      - Password of O(username). Never shown in output, errors or the inventory cache.
      - May be a Jinja template in this file (for example a lookup) or an inline vaulted value.
    type: str
    env:
      - name: VMOPS_PSRP_PASSWORD
  certificate_pem:
    description: Client certificate (PEM) for O(auth=certificate).
    type: path
    env:
      - name: VMOPS_PSRP_CERTIFICATE_PEM
  certificate_key_pem:
    description: Private key (PEM) of O(certificate_pem).
    type: path
    env:
      - name: VMOPS_PSRP_CERTIFICATE_KEY_PEM
  validate_certs:
    description: Verify the server's TLS certificate. Keep this on; use O(ca_path) to trust a private CA.
    type: bool
    default: true
    env:
      - name: VMOPS_PSRP_VALIDATE_CERTS
  ca_path:
    description: PEM file of the CA that signed the server's WinRM certificate; unset uses the system trust store.
    type: path
    env:
      - name: VMOPS_PSRP_CA_PATH
  encryption:
    description: WinRM message encryption; V(never) only for O(auth=basic) over plain HTTP in a lab.
    type: str
    default: auto
    choices: [auto, always, never]
    env:
      - name: VMOPS_PSRP_ENCRYPTION
  configuration_name:
    description: PowerShell session configuration; the Windows PowerShell 5.1 endpoint loads the VMM module.
    type: str
    default: Microsoft.PowerShell
    env:
      - name: VMOPS_PSRP_CONFIGURATION_NAME
  operation_timeout:
    description: Seconds the server holds one WS-Man request open before answering that it has no data yet.
    type: int
    default: 20
    env:
      - name: VMOPS_PSRP_OPERATION_TIMEOUT
  connection_timeout:
    description: Seconds to wait for the TCP connection to the WinRM listener.
    type: int
    default: 30
    env:
      - name: VMOPS_PSRP_CONNECTION_TIMEOUT
  retries:
    description: How many times a listing is repeated after a transient fault, with capped, jittered backoff.
    type: int
    default: 3
    env:
      - name: VMOPS_PSRP_RETRIES
  vmm_server:
    description:
      - The VMM server to connect to from the PowerShell session when O(server) is a jump box with the VMM console.
        Unset connects to C(localhost).
    type: str
    env:
      - name: VMOPS_PSRP_VMM_SERVER
  vmm_username:
    description: User for the connection from the jump box to O(vmm_server) (the second hop); needs O(vmm_password).
    type: str
    env:
      - name: VMOPS_PSRP_VMM_USERNAME
  vmm_password:
    description: Password of O(vmm_username); sent as a SecureString parameter, never in script text or output.
    type: str
    env:
      - name: VMOPS_PSRP_VMM_PASSWORD
  include_vms:
    description:
      - Also list the virtual machines, one more listing pipeline. Off by default, because a play that patches hosts
        should not find VMs in its inventory.
    type: bool
    default: false
  host_names:
    description:
      - Inventory name of a Hyper-V host; V(fqdn) (VMM's C(Name)) or V(computer_name) (the short name).
    type: str
    choices: [fqdn, computer_name]
    default: fqdn
  duplicate_names:
    description:
      - VM names are not unique in VMM. V(suffix) keeps the plain name for the first VM of a name (ordered by host,
        then VM id) and names the others C(<name>_<suffix>), where C(<suffix>) is the first 8 hexadecimal digits of the
        SHA-256 of the VM id; V(suffix_all) suffixes every VM of a duplicated name; V(error) fails the source and
        lists the VMs. The original name is always in C(vmm_vm_name).
      - A VM named like a Hyper-V host's inventory name is always suffixed.
    type: str
    choices: [suffix, suffix_all, error]
    default: suffix
  group_prefix:
    description: Prefix of every group this plugin builds (not of O(groups) and O(keyed_groups)).
    type: str
    default: vmm_
  group_by:
    description:
      - Which groups to build, besides C(<prefix>hosts) (every Hyper-V host) and C(<prefix>vms) (every VM). Group
        names are lower case with every character other than a letter, digit or C(_) replaced by C(_).
      - V(cluster) gives C(<prefix>cluster_<cluster name>) with the cluster's nodes; V(standalone) gives
        C(<prefix>standalone) with the hosts that are in no cluster; V(host_group) gives
        C(<prefix>host_group_<path>) for the host group of each host (C(vmm_host_group_all_hosts_production) for
        C(All Hosts\\Production)), each a child of its parent host group's group.
      - For VMs, V(vm_host) gives C(<prefix>vms_on_<host FQDN>), V(vm_cluster) C(<prefix>vms_in_<cluster name>) and
        V(vm_status) C(<prefix>vm_status_<status>) (for example C(vmm_vm_status_running)).
    type: list
    elements: str
    choices: [cluster, standalone, host_group, vm_host, vm_cluster, vm_status]
    default: [cluster, standalone, host_group, vm_host, vm_cluster, vm_status]
requirements:
  - pypsrp >= 0.9 on the controller.
notes:
  - Uses the same connection options, environment variables and PowerShell scripts as the collection's VMM modules,
    so an AWX credential that injects the E(VMOPS_PSRP_SERVER), E(VMOPS_PSRP_USERNAME) and E(VMOPS_PSRP_PASSWORD)
    variables serves both.
  - A failure (unreachable server, wrong password, TLS not trusted, a VMM error) fails the inventory source with a
    message naming the server, the operation and the PowerShell error, never the password.
  - The cache key is made of the inventory file path, the server, port, user names, the VMM server and whether VMs
    are listed (never a password). Only the listings are cached.
  - Host names are VMM's names; this plugin sets no C(ansible_host). Set it through O(compose) when a play connects
    to the hosts or VMs by another name, for example C(ansible_host=vmm_computer_name).
seealso:
  - module: vmops.datacenter.vmm_host_info
  - module: vmops.datacenter.vmm_vm_info
  - plugin: ansible.builtin.constructed
    plugin_type: inventory
"""

EXAMPLES = r"""
# prod.vmm.yml: the Hyper-V hosts of the VMM server, credentials from VMOPS_PSRP_USERNAME / VMOPS_PSRP_PASSWORD /
# VMOPS_PSRP_CA_PATH (as for the VMM modules); groups vmm_cluster_*, vmm_standalone, vmm_host_group_*
plugin: vmops.datacenter.vmm
server: vmm01.example.com

# Hosts and VMs, credentials through Jinja, a group per batch (custom property Custom1) and per owner,
# cached for ten minutes
plugin: vmops.datacenter.vmm
server: "{{ lookup('ansible.builtin.env', 'VMM_SERVER') }}"
username: EXAMPLE\svc-ansible
password: "{{ lookup('ansible.builtin.env', 'VMM_PASSWORD') }}"
include_vms: true
keyed_groups:
  - key: vmm_custom_properties.Custom1
    prefix: batch
  - key: vmm_custom_properties.Owner | default('nobody')
    prefix: owner
groups:
  patch_first: vmm_type == 'host' and vmm_host_group is search('Test')
compose:
  ansible_host: vmm_computer_name
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/vmops-inventory
cache_timeout: 600

# From a jump box with the VMM console, a vaulted password for the second hop, short host names
plugin: vmops.datacenter.vmm
server: jump01.example.com
vmm_server: vmm01.example.com
vmm_username: EXAMPLE\svc-vmm
vmm_password: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  ...
host_names: computer_name
group_by: [cluster, standalone]
"""

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.vmops.datacenter.plugins.module_utils._common import redact
from ansible_collections.vmops.datacenter.plugins.module_utils._psrp import (
    HAS_PYPSRP,
    PYPSRP_IMPORT_ERROR,
    PsrpError,
    runner_from_params,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._vmm import VmmClient
from ansible_collections.vmops.datacenter.plugins.plugin_utils._inventory import (
    add_group,
    add_host,
    assign_host_names,
    cache_key,
    cached_or_fetched,
    group_name,
    name_suffix,
    templated,
)

CONNECTION = ("server", "port", "ssl", "auth", "username", "password", "certificate_pem", "certificate_key_pem",
              "validate_certs", "ca_path", "encryption", "configuration_name", "operation_timeout",
              "connection_timeout", "retries", "vmm_server", "vmm_username", "vmm_password")
# Text options that may hold Jinja or an inline vault value.
TEMPLATED = ("server", "username", "password", "configuration_name", "vmm_server", "vmm_username", "vmm_password")
NEEDS_PASSWORD = ("basic", "ntlm", "credssp")
DUPLICATE_ERROR = "Several VMs share a name (%s). Rename them, or set duplicate_names to suffix or suffix_all."


def host_group_chain(path):
    """The host group path and each of its ancestors, root first: ``A\\B\\C`` -> ``A``, ``A\\B``, ``A\\B\\C``."""
    parts = [p for p in (path or "").split("\\") if p]
    return ["\\".join(parts[:i]) for i in range(1, len(parts) + 1)]


def host_vars(host, server):
    return dict(
        vmm_type="host", vmm_id=host.get("id"), vmm_fqdn=host.get("name"), vmm_computer_name=host.get("computer_name"),
        vmm_cluster=host.get("cluster"), vmm_host_group=host.get("host_group"),
        vmm_in_maintenance=bool(host.get("in_maintenance")), vmm_overall_state=host.get("overall_state"),
        vmm_available_for_placement=host.get("available_for_placement"),
        vmm_total_memory_mb=host.get("total_memory_mb"), vmm_available_memory_mb=host.get("available_memory_mb"),
        vmm_vm_count=host.get("vm_count"), vmm_running_vm_count=host.get("running_vm_count"), vmm_server=server)


def vm_vars(vm, host_groups, server):
    return dict(
        vmm_type="vm", vmm_id=vm.get("id"), vmm_vm_name=vm.get("name"), vmm_computer_name=vm.get("computer_name"),
        vmm_status=vm.get("status"), vmm_host=vm.get("host"), vmm_cluster=vm.get("cluster"),
        vmm_host_group=host_groups.get((vm.get("host") or "").lower()),
        vmm_is_highly_available=vm.get("is_highly_available"), vmm_memory_mb=vm.get("memory_mb"),
        vmm_custom_properties=dict(vm.get("custom_properties") or {}),
        vmm_last_restored_checkpoint_id=vm.get("last_restored_checkpoint_id"), vmm_server=server)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "vmops.datacenter.vmm"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("vmm.yml", "vmm.yaml"))

    # -- options ----------------------------------------------------------------------------

    def _connection(self, for_cache_key=False):
        """The runner's connection parameters; Jinja and vault values resolved. For the cache key only the
        names (no password) are resolved and nothing is required."""
        params = dict((name, self.get_option(name)) for name in CONNECTION)
        if for_cache_key:
            return [templated(self.templar, params[k]) if k in TEMPLATED else params[k]
                    for k in ("server", "port", "username", "vmm_server", "vmm_username", "configuration_name")]
        for name in TEMPLATED:
            params[name] = templated(self.templar, params[name])
        problems = []
        if not params["server"]:
            problems.append("no server: set server in the inventory file or VMOPS_PSRP_SERVER")
        if params["auth"] in NEEDS_PASSWORD and not (params["username"] and params["password"]):
            problems.append("auth=%s needs username and password (or VMOPS_PSRP_USERNAME and VMOPS_PSRP_PASSWORD)"
                            % params["auth"])
        if bool(params["vmm_username"]) != bool(params["vmm_password"]):
            problems.append("vmm_username and vmm_password go together")
        if params["auth"] == "certificate" and not (params["certificate_pem"] and params["certificate_key_pem"]):
            problems.append("auth=certificate needs certificate_pem and certificate_key_pem")
        for name in ("operation_timeout", "connection_timeout"):
            if params[name] <= 0:
                problems.append("%s must be greater than zero, got %s" % (name, params[name]))
        if params["retries"] < 0:
            problems.append("retries must not be negative, got %s" % params["retries"])
        if problems:
            raise AnsibleParserError("vmops.datacenter.vmm: %s." % "; ".join(problems))
        return params

    # -- cache ------------------------------------------------------------------------------

    def get_cache_key(self, path):
        """The file path plus server, port, user names and whether VMs are listed, never a password."""
        identity = self._connection(for_cache_key=True) + [bool(self.get_option("include_vms"))]
        return cache_key(super().get_cache_key(path), identity)

    # -- fetching ---------------------------------------------------------------------------

    def _fetch(self, params):
        """One runspace pool: connect, one host listing, one VM listing when VMs are wanted."""
        if not HAS_PYPSRP:
            raise AnsibleError("The vmops.datacenter.vmm inventory needs the Python library pypsrp: %s"
                               % PYPSRP_IMPORT_ERROR)
        runner = runner_from_params(params, "vmm")
        try:
            with runner:
                client = VmmClient(runner)
                hosts = client.list_hosts()
                vms = client.find_vms() if self.get_option("include_vms") else None
        except PsrpError as exc:
            secrets = [params["password"], params["vmm_password"]]
            raise AnsibleParserError("vmops.datacenter.vmm: %s" % redact(to_native(exc), secrets)) from None
        for warning in runner.warnings:
            self.display.warning("vmops.datacenter.vmm: %s" % warning)
        connected = runner.connected or {}
        self.display.vvv("vmops.datacenter.vmm: %s (VMM %s) listed %d hosts%s in %d pipelines" % (
            params["server"], connected.get("server"), len(hosts),
            "" if vms is None else " and %d VMs" % len(vms), runner.pipelines))
        return dict(server=connected.get("server"), hosts=hosts, vms=vms)

    # -- populating -------------------------------------------------------------------------

    def _populate(self, data):
        prefix = self.get_option("group_prefix") or ""
        group_by = set(self.get_option("group_by") or [])
        server = data.get("server")
        taken, host_groups = set(), {}
        name_key = "name" if self.get_option("host_names") == "fqdn" else "computer_name"
        for host in data.get("hosts") or []:
            name = host.get(name_key) or host.get("name")
            if not name:
                continue
            host_groups[(host.get("name") or "").lower()] = host.get("host_group")
            taken.add(name)
            add_host(self, name, host_vars(host, server), self._host_groups(prefix, group_by, host))
        if data.get("vms") is None:
            return
        add_group(self.inventory, prefix + "vms")
        vms = [vm for vm in data["vms"] if vm.get("name") and vm.get("id")]
        named = assign_host_names(
            vms, self.get_option("duplicate_names"), name_of=lambda vm: vm["name"], id_of=lambda vm: vm["id"],
            order_of=lambda vm: ((vm.get("host") or "").lower(), vm["id"]),
            describe=lambda vm: "%s on %s" % (vm["id"], vm.get("host")), duplicate_error=DUPLICATE_ERROR)
        for name, vm in named:
            if name in taken:  # never merge a VM into a Hyper-V host (or another VM) of that name
                name = "%s_%s" % (name, name_suffix(vm["id"]))
            taken.add(name)
            add_host(self, name, vm_vars(vm, host_groups, server), self._vm_groups(prefix, group_by, vm))

    def _host_groups(self, prefix, group_by, host):
        yield prefix + "hosts"
        if "cluster" in group_by and host.get("cluster"):
            yield group_name(prefix + "cluster_", host["cluster"])
        if "standalone" in group_by and not host.get("cluster"):
            yield prefix + "standalone"
        if "host_group" in group_by and host.get("host_group"):
            parent = None
            for path in host_group_chain(host["host_group"]):
                group = group_name(prefix + "host_group_", path)
                add_group(self.inventory, group, parent=parent)
                parent = group
            yield parent

    @staticmethod
    def _vm_groups(prefix, group_by, vm):
        yield prefix + "vms"
        if "vm_host" in group_by and vm.get("host"):
            yield group_name(prefix + "vms_on_", vm["host"])
        if "vm_cluster" in group_by and vm.get("cluster"):
            yield group_name(prefix + "vms_in_", vm["cluster"])
        if "vm_status" in group_by and vm.get("status"):
            yield group_name(prefix + "vm_status_", vm["status"])

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        self._populate(cached_or_fetched(self, path, cache, lambda: self._fetch(self._connection())))
