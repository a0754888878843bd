# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection behaviour every module shares: environment fallbacks, TLS, credentials, unreachable servers."""

from __future__ import annotations

import socket


def playbook(tmp_path, task):
    path = tmp_path / "connection.yml"
    path.write_text("""
- name: Connection check
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The module under test
      %s
      register: outcome
      ignore_errors: true
    - name: Show the outcome
      ansible.builtin.debug:
        var: outcome
""" % task)
    return path


def env_for(lab, appliance="vmstore1", **overrides):
    endpoint = lab.endpoints[appliance]
    env = {"TINTRI_HOSTNAME": endpoint["hostname"], "TINTRI_USERNAME": endpoint["username"],
           "TINTRI_PASSWORD": endpoint["password"], "TINTRI_CA_PATH": str(lab.pki.ca_path), "TINTRI_RETRIES": "2"}
    env.update(overrides)
    return env


def test_environment_variables_are_enough(lab, ansible, tmp_path):
    result = ansible(playbook(tmp_path, "vmops.datacenter.vmstore_vm_info: {name: prod-sql01}"),
                     env=env_for(lab), verbosity=4).assert_ok()
    assert "count: 1" in result.output and "failed: true" not in result.output


def test_tls_is_verified_and_a_wrong_ca_is_explained(lab, ansible, tmp_path):
    result = ansible(playbook(tmp_path, "vmops.datacenter.vmstore_vm_info: {name: prod-sql01}"),
                     env=env_for(lab, TINTRI_CA_PATH="/etc/ssl/certs/ca-certificates.crt")).assert_ok()
    assert "ca_path" in result.output and "failed: true" in result.output


def test_bad_password_is_a_clear_403_without_the_password(lab, ansible, tmp_path):
    wrong = "Wr0ng-Pa55-visible?"
    result = ansible(playbook(tmp_path, "vmops.datacenter.vmstore_vm_info: {name: prod-sql01}"),
                     env=env_for(lab, TINTRI_PASSWORD=wrong), verbosity=4).assert_ok()
    assert "HTTP 403" in result.output and "Check username and password" in result.output
    assert wrong not in result.output


def test_unreachable_server_fails_after_bounded_retries(lab, ansible, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = ansible(playbook(tmp_path, "vmops.datacenter.vmstore_vm_info: {name: prod-sql01}"),
                     env=env_for(lab, TINTRI_HOSTNAME="localhost:%d" % port)).assert_ok()
    assert "Cannot complete GET /api/info" in result.output and "failed: true" in result.output
