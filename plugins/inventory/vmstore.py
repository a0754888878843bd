# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vmstore
short_description: Virtual machines of Tintri VMstores or a Tintri Global Center as inventory hosts
version_added: 0.1.0
author:
  - vmops.datacenter maintainers (@vmops)
description:
  - Lists the live virtual machines of one or more Tintri VMstores, or of a Tintri Global Center (which lists the VMs of
    all its VMstores), over REST API v310 and makes each VM an inventory host named after the VM.
  - One paginated listing per server (C(GET /api/v310/vm?live=TRUE)), never a request per VM.
  - Groups the VMs by VMstore, datastore, hypervisor type, service group and power state (see O(group_by)), and
    supports the C(constructed) features O(keyed_groups), O(groups), O(compose) and O(strict).
  - Every string that comes from the API is marked unsafe, so a VM name or service group name containing Jinja
    is never templated.
  - Two live VMs with the same name are handled by O(duplicate_names); the original name is always in the host
    variable C(tintri_vm_name).
  - "The inventory source is a YAML file whose name ends in C(vmstore.yml) or C(vmstore.yaml)
    (for example C(prod.vmstore.yml)) and whose O(plugin) key names this plugin."
  - "Host variables set for every VM: C(tintri_vm_name) (the name in Tintri), C(tintri_uuid),
    C(tintri_vmstore) (the VMstore that holds the VM), C(tintri_server) (the server it was listed from),
    C(tintri_datastore) (the first hypervisor datastore) and C(tintri_datastores) (all of them),
    C(tintri_hypervisor_type) (for example V(HYPERV) or V(VMWARE)), C(tintri_hypervisor_manager),
    C(tintri_hypervisor_host), C(tintri_service_groups) (a list of names), C(tintri_power_state) (V(on) or V(off)),
    C(tintri_is_template), C(tintri_subdir), C(tintri_cpus), C(tintri_memory_mb), C(tintri_ip_addresses),
    C(tintri_space_provisioned_gib), C(tintri_space_used_gib), C(tintri_replication_enabled),
    C(tintri_latest_snapshot_name) and C(tintri_latest_snapshot_time) (ISO-8601 UTC; both null without snapshots)."
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: Marks the file as an inventory source of this plugin.
    required: true
    type: str
    choices: [vmops.datacenter.vmstore]
  servers:
    description:
      - The VMstores and/or Tintri Global Centers to list, each a host name or address (optionally with C(:port)), or
        a mapping with C(hostname) and any of C(username), C(password), C(ca_path) that override the top-level options
        for that server.
      - A VM listed by two servers (a TGC and one of its VMstores) appears once, from the first server that lists it.
      - Values may be Jinja templates in this file, for example
        C({{ lookup('ansible.builtin.env', 'VMSTORE_PROD') }}).
    type: list
    elements: raw
    required: true
    env:
      - name: TINTRI_HOSTNAME
  username:
    description:
      - User to log in as; a read-only user is enough.
      - May be a Jinja template in this file (for example a lookup of an environment variable or a vaulted variable).
      - Required, here or in every entry of O(servers).
    type: str
    env:
      - name: TINTRI_USERNAME
  password:
    description:
      - Password of O(username). Never shown in output, errors or the inventory cache.
      - May be a Jinja template in this file (for example C({{ lookup('ansible.builtin.env', 'MY_PASSWORD') }})) or an
        inline vaulted value.
      - Required, here or in every entry of O(servers).
    type: str
    env:
      - name: TINTRI_PASSWORD
  validate_certs:
    description: Verify the servers' TLS certificates. Keep this on; use O(ca_path) to trust a private CA.
    type: bool
    default: true
    env:
      - name: TINTRI_VALIDATE_CERTS
  ca_path:
    description: PEM file (or directory of hashed certificates) of the CA that signed the server certificates.
    type: path
    env:
      - name: TINTRI_CA_PATH
  timeout:
    description: Seconds to wait for each HTTP connection and response.
    type: int
    default: 60
    env:
      - name: TINTRI_TIMEOUT
  retries:
    description:
      - How many times a listing request is repeated after a connection failure, HTTP 502/503/504 or a busy answer,
        with capped, jittered exponential backoff.
    type: int
    default: 5
    env:
      - name: TINTRI_RETRIES
  include:
    description:
      - Shell-style patterns (C(*), C(?), C([...])) matched against the VM name, case-sensitively. When set, only VMs
        that match at least one pattern become hosts.
    type: list
    elements: str
    default: []
  exclude:
    description: Shell-style patterns matched against the VM name; VMs that match any of them are left out, also when
      O(include) matches them.
    type: list
    elements: str
    default: []
  include_templates:
    description: Also list VM templates (C(vmware.isTemplate)); they are left out by default.
    type: bool
    default: false
  duplicate_names:
    description:
      - What to do when two live VMs have the same name (on different VMstores, or on one VMstore with two hypervisor
        managers). The original name is always kept in C(tintri_vm_name).
      - V(suffix) keeps the plain name for the first of them, ordered by the position of its server in O(servers), then
        VMstore, then VM id, so an existing VM keeps its host name when a newer namesake appears; each other one is named
        C(<name>_<suffix>), where C(<suffix>) is the first 8 hexadecimal digits of the SHA-256 of its VM id (stable for
        the life of the VM).
      - V(suffix_all) names every VM of a duplicated name C(<name>_<suffix>), so no VM can take over a plain name.
      - V(error) fails the inventory source and lists the VMs and their ids.
    type: str
    choices: [suffix, suffix_all, error]
    default: suffix
  group_by:
    description:
      - Which groups to build. Group names are lower case with every character other than a letter, digit or C(_)
        replaced by C(_).
      - V(vmstore) gives C(vmstore_<VMstore host name>), V(datastore) C(datastore_<hypervisor datastore>),
        V(hypervisor_type) C(hypervisor_<type>) (for example C(hypervisor_hyperv)), V(service_group)
        C(service_group_<name>) and V(power_state) C(power_on) or C(power_off).
    type: list
    elements: str
    choices: [vmstore, datastore, hypervisor_type, service_group, power_state]
    default: [vmstore, datastore, hypervisor_type, service_group, power_state]
notes:
  - A failing server (unreachable, wrong password, TLS not trusted) fails the whole inventory source with a message
    naming the server, the call, the HTTP status and the Tintri error code, rather than returning a partial inventory
    that would silently leave VMs out of a run.
  - The cache key is made of the inventory file path, the servers and the user names (never the password), so two
    inventories that differ only in server or user never share cached hosts. Only the VM data is cached.
  - Host names are VM names, which usually are not resolvable or reachable; this plugin sets no C(ansible_host). The
    runbooks of this collection talk to the APIs from the controller; set C(ansible_host) through O(compose) when a
    play connects to the guests.
seealso:
  - plugin: ansible.builtin.constructed
    plugin_type: inventory
"""

EXAMPLES = r"""
# prod.vmstore.yml: both VMstores, credentials from TINTRI_USERNAME / TINTRI_PASSWORD / TINTRI_CA_PATH
plugin: vmops.datacenter.vmstore
servers:
  - vmstore-prod.example.com
  - vmstore-dr.example.com

# tgc.vmstore.yml: every VMstore behind a Tintri Global Center, credentials from the environment through Jinja,
# production VMs only, cached for an hour
plugin: vmops.datacenter.vmstore
servers:
  - "{{ lookup('ansible.builtin.env', 'TGC_HOST') }}"
username: "{{ lookup('ansible.builtin.env', 'TGC_USER') }}"
password: "{{ lookup('ansible.builtin.env', 'TGC_PASSWORD') }}"
ca_path: /etc/pki/tls/certs/datacenter-ca.pem
include: ["prod-*"]
exclude: ["*-old", "*-test"]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/vmops-inventory
cache_timeout: 3600

# per-server credentials, one of them vaulted; duplicate VM names are an error; constructed groups and variables
plugin: vmops.datacenter.vmstore
servers:
  - hostname: vmstore-prod.example.com
  - hostname: vmstore-lab.example.com
    username: labadmin
    password: !vault |
      $ANSIBLE_VAULT;1.1;AES256
      ...
username: svc-ansible
password: "{{ lookup('ansible.builtin.env', 'TINTRI_PASSWORD') }}"
duplicate_names: error
group_by: [vmstore, service_group]
keyed_groups:
  - key: tintri_hypervisor_manager
    prefix: manager
groups:
  protect_to_s3: "'Production SQL' in tintri_service_groups"
  syncvm_dev: tintri_vm_name is match('dev-')
compose:
  ansible_host: tintri_ip_addresses | first | default(inventory_hostname)
  large_vm: tintri_space_provisioned_gib > 500
"""

import fnmatch

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.vmops.datacenter.plugins.module_utils._common import redact
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    TintriClient,
    TintriError,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._tintri_lookup import vm_summary
from ansible_collections.vmops.datacenter.plugins.plugin_utils._inventory import (
    add_host,
    assign_host_names as _assign_host_names,
    cache_key,
    cached_or_fetched,
    group_name,
    name_suffix,
    templated,
)

__all__ = ["InventoryModule", "assign_host_names", "name_suffix"]

GROUP_BY = ("vmstore", "datastore", "hypervisor_type", "service_group", "power_state")
SERVER_KEYS = frozenset(["hostname", "username", "password", "ca_path"])
DUPLICATE_ERROR = ("Several live VMs share a name (%s). Rename them, narrow the inventory with include/exclude, or set "
                   "duplicate_names to suffix or suffix_all.")


def service_group_names(vm):
    """The names of the VM's service groups (the API gives one object, some versions a list)."""
    groups = vm.get("serviceGroup") or vm.get("serviceGroups") or []
    if isinstance(groups, dict):
        groups = [groups]
    return [g.get("name") for g in groups if isinstance(g, dict) and g.get("name")]


def vm_record(vm, client, server_index):
    """The host variables of one VM (before unsafe marking); plain data so it can be cached."""
    summary = vm_summary(vm, client)
    vmware = vm.get("vmware") or {}
    latest = summary["latest_snapshot"] or {}
    datastores = [d for d in summary["storage_containers"] if d]
    return dict(
        tintri_vm_name=summary["name"],
        tintri_uuid=summary["uuid"],
        tintri_vmstore=summary["vmstore"],
        tintri_server=client.hostname,
        tintri_server_index=server_index,
        tintri_datastore=datastores[0] if datastores else None,
        tintri_datastores=datastores,
        tintri_hypervisor_type=summary["hypervisor_type"],
        tintri_hypervisor_manager=summary["hypervisor_manager"] or None,
        tintri_hypervisor_host=summary["host"] or None,
        tintri_service_groups=service_group_names(vm),
        tintri_power_state="on" if summary["is_powered"] else "off",
        tintri_is_template=bool(vmware.get("isTemplate")),
        tintri_subdir=summary["subdir"] or None,
        tintri_cpus=vmware.get("numberCpu"),
        tintri_memory_mb=vmware.get("memoryProvisionedMB"),
        tintri_ip_addresses=list(vmware.get("ipList") or []),
        tintri_space_provisioned_gib=summary["space_provisioned_gib"],
        tintri_space_used_gib=summary["space_used_gib"],
        tintri_replication_enabled=bool((vm.get("replication") or {}).get("isEnabled")),
        tintri_latest_snapshot_name=latest.get("name"),
        tintri_latest_snapshot_time=latest.get("create_time"),
    )


def assign_host_names(records, policy):
    """Pair each record with its inventory host name, applying the duplicate-name policy.

    Returns ``[(host_name, record)]`` in a stable order; raises AnsibleParserError for ``error``.
    """
    return _assign_host_names(
        records, policy, name_of=lambda r: r["tintri_vm_name"], id_of=lambda r: r["tintri_uuid"],
        order_of=lambda r: (r["tintri_server_index"], r["tintri_vmstore"] or "", r["tintri_uuid"] or ""),
        describe=lambda r: "%s on %s" % (r["tintri_uuid"], r["tintri_vmstore"]), duplicate_error=DUPLICATE_ERROR)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "vmops.datacenter.vmstore"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("vmstore.yml", "vmstore.yaml"))

    # -- options ----------------------------------------------------------------------------

    def _templated(self, value):
        return templated(self.templar, value)

    def _servers(self, for_cache_key=False):
        """Each server as a dict with hostname, username, password, ca_path (top-level values as defaults).

        For the cache key only host and user names are templated and nothing is required.
        """
        defaults = dict(username=self.get_option("username"), password=self.get_option("password"),
                        ca_path=self.get_option("ca_path"))
        servers = []
        for entry in self.get_option("servers") or []:
            if isinstance(entry, str):
                entry = dict(hostname=entry)
            if not isinstance(entry, dict) or not entry.get("hostname"):
                raise AnsibleParserError("Each entry of servers must be a host name or a mapping with hostname, got %s."
                                         % type(entry).__name__)
            unknown = sorted(set(entry) - SERVER_KEYS)
            if unknown:
                raise AnsibleParserError("Unknown keys in the servers entry for %s: %s (allowed: %s)." % (
                    entry.get("hostname"), ", ".join(unknown), ", ".join(sorted(SERVER_KEYS))))
            server = dict(defaults)
            server.update((k, v) for k, v in entry.items() if v is not None)
            if for_cache_key:
                servers.append(dict((k, self._templated(server.get(k))) for k in ("hostname", "username")))
                continue
            server = dict((k, self._templated(v)) for k, v in server.items())
            for key in ("hostname", "username", "password"):
                if not server.get(key):
                    raise AnsibleParserError("No %s for Tintri server %s: set %s in the inventory file or %s." % (
                        key, server.get("hostname") or "(unnamed)", key, "TINTRI_%s" % key.upper()))
            servers.append(server)
        if not servers:
            raise AnsibleParserError("No Tintri servers: set servers in the inventory file or TINTRI_HOSTNAME.")
        return servers

    # -- cache ------------------------------------------------------------------------------

    def get_cache_key(self, path):
        """The file path plus the servers and user names (templated), never the password."""
        identity = [[s["hostname"], s["username"]] for s in self._servers(for_cache_key=True)]
        return cache_key(super().get_cache_key(path), identity)

    # -- fetching ---------------------------------------------------------------------------

    def _fetch(self, servers):
        """One listing per server; VMs already seen (a TGC and its VMstore) are kept once."""
        if not HAS_REQUESTS:
            raise AnsibleError("The vmops.datacenter.vmstore inventory needs the Python library requests: %s"
                               % REQUESTS_IMPORT_ERROR)
        records, seen = [], set()
        include, exclude = self.get_option("include") or [], self.get_option("exclude") or []
        include_templates = self.get_option("include_templates")
        for index, server in enumerate(servers):
            secrets = [server["password"]]
            try:
                client = TintriClient(server["hostname"], server["username"], server["password"],
                                      validate_certs=self.get_option("validate_certs"), ca_path=server["ca_path"],
                                      timeout=self.get_option("timeout"), retries=self.get_option("retries"))
                with client:
                    listed = kept = 0
                    for vm in client.iter_items("/v310/vm", {"live": "TRUE"}):
                        listed += 1
                        if vm.get("isLive") is False or vm.get("isDeleted"):
                            continue
                        record = vm_record(vm, client, index)
                        name = record["tintri_vm_name"]
                        if not name or not record["tintri_uuid"] or record["tintri_uuid"] in seen:
                            continue
                        if record["tintri_is_template"] and not include_templates:
                            continue
                        if include and not any(fnmatch.fnmatchcase(name, p) for p in include):
                            continue
                        if any(fnmatch.fnmatchcase(name, p) for p in exclude):
                            continue
                        seen.add(record["tintri_uuid"])
                        records.append(record)
                        kept += 1
                    self.display.vvv("vmops.datacenter.vmstore: %s listed %d VMs, %d kept" % (
                        client.server_label, listed, kept))
            except TintriError as exc:
                raise AnsibleParserError("vmops.datacenter.vmstore: %s" % redact(to_native(exc), secrets)) from None
        return records

    # -- populating -------------------------------------------------------------------------

    def _populate(self, records):
        group_by = self.get_option("group_by") or []
        for host, record in assign_host_names(records, self.get_option("duplicate_names")):
            hostvars = dict((k, v) for k, v in record.items() if k != "tintri_server_index")
            add_host(self, host, hostvars, self._builtin_groups(hostvars, group_by))

    @staticmethod
    def _builtin_groups(hostvars, group_by):
        values = dict(
            vmstore=[("vmstore_", hostvars["tintri_vmstore"])],
            datastore=[("datastore_", d) for d in hostvars["tintri_datastores"]],
            hypervisor_type=[("hypervisor_", hostvars["tintri_hypervisor_type"])],
            service_group=[("service_group_", g) for g in hostvars["tintri_service_groups"]],
            power_state=[("power_", hostvars["tintri_power_state"])],
        )
        for kind in GROUP_BY:
            if kind in group_by:
                for prefix, value in values[kind]:
                    if value:
                        yield group_name(prefix, value)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        self._populate(cached_or_fetched(self, path, cache, lambda: self._fetch(self._servers())))
