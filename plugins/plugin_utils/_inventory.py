# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection's inventory plugins (vmstore, vmm) share.

Group names from API text, connection values from the inventory file (inline vault values and
Jinja), cache keys that name servers and users but never a password, reading through the cache,
duplicate VM names settled deterministically, and hosts added with every API value marked
unsafe before the ``constructed`` options see them.

Controller-side code (it imports ansible's controller packages), hence plugin_utils, not
module_utils. Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

import hashlib
import json

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_text
from ansible.utils.unsafe_proxy import wrap_var

# Characters Ansible accepts in group names; everything else becomes "_".
_GROUP_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def group_name(prefix, value):
    """``prefix`` + ``value``, lower case, every character that is not a letter, digit or _ replaced by _."""
    text = ("%s%s" % (prefix, value)).lower()
    return "".join(c if c in _GROUP_CHARS else "_" for c in text)


def name_suffix(key):
    """A short, stable suffix for an object id (hashed: parts of some ids repeat across servers)."""
    return hashlib.sha256((key or "").encode("utf-8")).hexdigest()[:8]


def templated(templar, value):
    """A connection value from the inventory file as plain text: inline vault decrypted, Jinja rendered."""
    if value is None:
        return None
    if not isinstance(value, str):  # an inline !vault value decrypts when turned into text
        value = to_text(value, errors="surrogate_or_strict")
    if "{{" in value or "{%" in value:
        value = templar.template(value)
    return value


def cache_key(base, identity):
    """``base`` (the inventory file's own key) plus a digest of ``identity`` (servers, user names; never secrets)."""
    digest = hashlib.sha256(json.dumps(identity, default=str).encode("utf-8")).hexdigest()[:16]
    return "%s_%s" % (base, digest)


def cached_or_fetched(plugin, path, cache, fetch):
    """The plugin's data from its cache when allowed and present, else ``fetch()``; the cache updated as Ansible
    expects (``--flush-cache`` passes ``cache=False``: fetch and store)."""
    key = plugin.get_cache_key(path)
    enabled = plugin.get_option("cache")
    update = enabled and not cache
    data = None
    if enabled and cache:
        try:
            data = plugin._cache[key]
        except KeyError:
            update = True
    if data is None:
        data = fetch()
    if update:
        plugin._cache[key] = data
    return data


def assign_host_names(records, policy, name_of, id_of, order_of, describe, duplicate_error):
    """Pair each record with its inventory host name, applying a duplicate-name policy.

    ``suffix`` keeps the plain name for the first record of a name in ``order_of`` order and names the
    others ``<name>_<name_suffix(id)>``; ``suffix_all`` suffixes every record of a duplicated name;
    ``error`` raises AnsibleParserError with ``duplicate_error % details`` (``describe(record)`` per record).
    Returns ``[(host_name, record)]`` in a stable order.
    """
    by_name = {}
    for rec in sorted(records, key=order_of):
        by_name.setdefault(name_of(rec), []).append(rec)
    duplicated = dict((name, recs) for name, recs in by_name.items() if len(recs) > 1)
    if duplicated and policy == "error":
        details = "; ".join("%r: %s" % (name, ", ".join(describe(r) for r in recs))
                            for name, recs in sorted(duplicated.items()))
        raise AnsibleParserError(duplicate_error % details)
    named = []
    taken = set(n for n in by_name if n not in duplicated)
    for name, recs in sorted(by_name.items()):
        for position, rec in enumerate(recs):
            if len(recs) == 1 or (position == 0 and policy == "suffix"):
                host = name
            else:
                host = "%s_%s" % (name, name_suffix(id_of(rec)))
                if host in taken:  # a real object already has this exact name
                    host = "%s_%s" % (name, id_of(rec))
            taken.add(host)
            named.append((host, rec))
    return named


def add_group(inventory, name, parent=None):
    """A group (name marked unsafe: it comes from API text), optionally as a child of ``parent``."""
    group = inventory.add_group(wrap_var(name))
    if parent is not None:
        inventory.add_child(inventory.add_group(wrap_var(parent)), group)
    return group


def add_host(plugin, name, hostvars, groups):
    """One host: name, variables and groups marked unsafe, then ``compose``, ``groups`` and ``keyed_groups``."""
    inventory = plugin.inventory
    host = inventory.add_host(wrap_var(name))
    for key, value in hostvars.items():
        inventory.set_variable(host, key, wrap_var(value))
    for group in groups:
        inventory.add_child(add_group(inventory, group), host)
    strict = plugin.get_option("strict")
    variables = inventory.get_host(host).get_vars()
    plugin._set_composite_vars(plugin.get_option("compose"), variables, host, strict=strict)
    plugin._add_host_to_composed_groups(plugin.get_option("groups"), variables, host, strict=strict)
    plugin._add_host_to_keyed_groups(plugin.get_option("keyed_groups"), variables, host, strict=strict)
    return host
