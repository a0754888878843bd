# Sphinx configuration of the vmops.datacenter documentation site; `make docs` builds it offline into
# .tmp/docs/html from a staged copy of docs/ plus the module and plugin reference antsibull-docs writes.
from __future__ import annotations

project = "vmops.datacenter"
copyright = "vmops.datacenter contributors"
title = "vmops.datacenter documentation"
html_short_title = "vmops.datacenter"
html_title = "vmops.datacenter documentation"

extensions = ["sphinx_antsibull_ext"]

# Hand-written pages are reStructuredText; Markdown files in docs/ (architecture, AWX) are read in the source tree.
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["**/*.md", "_build"]
root_doc = "index"

pygments_style = "ansible"
highlight_language = "YAML+Jinja"
html_theme = "sphinx_ansible_theme"
# No top bar links or extra navigation pointing at the Ansible project's own sites.
html_theme_options = {"collapse_navigation": False, "navigation_depth": 3, "topbar_links": {}, "show_extranav": False}
html_show_sphinx = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

default_role = "any"
nitpicky = True
# Offline build without intersphinx inventories: the generated reference points at a few pages of ansible-core's
# own documentation and at ansible.builtin plugins (common return values, configuration settings and their
# ANSIBLE_* variables, action plugins, the constructed inventory); those stay plain text. Everything else must
# resolve, so a broken reference to a page of this site fails the build (sphinx-build -W -n).
nitpick_ignore = [("std:ref", "common_return_values"), ("std:ref", "ansible_configuration_settings"),
                  ("std:ref", "action_plugins")]
nitpick_ignore_regex = [("std:envvar", r"ANSIBLE_[A-Z_]+"), ("std:ref", r"ansible_collections\.ansible\.builtin\..+")]
