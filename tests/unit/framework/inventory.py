# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for inventory plugin unit tests: load a plugin the way Ansible does, check unsafe marking."""

from __future__ import annotations

from ansible.plugins.loader import inventory_loader
from ansible.utils.collection_loader import AnsibleCollectionConfig


def load_inventory_plugin(name, module):
    """The plugin ``name`` (defined in ``module``) as Ansible loads it: through the plugin loader, which reads its
    option definitions."""
    if AnsibleCollectionConfig.collection_finder is not None:  # ansible-test units installs Ansible's finder
        plugin = inventory_loader.get(name)
        assert plugin is not None, "the plugin loader cannot find %s" % name
        return plugin
    # Plain pytest imports ansible_collections as an ordinary package, so do the loader's two steps by hand.
    path = module.__file__
    inventory_loader._load_config_defs(name, module, path)
    plugin = module.InventoryModule()
    inventory_loader._update_object(obj=plugin, name=name, path=path, redirected_names=[name], resolved=name)
    return plugin


def assert_not_templatable(value):
    """Unsafe under every supported ansible-core: untagged for templating (2.19+) or an AnsibleUnsafe (older)."""
    try:
        from ansible._internal._datatag._tags import TrustedAsTemplate
    except ImportError:  # ansible-core before 2.19
        from ansible.utils.unsafe_proxy import AnsibleUnsafe

        assert isinstance(value, AnsibleUnsafe)
    else:
        assert not TrustedAsTemplate.is_tagged_on(value)
