# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pool_recommendations runbook end to end: reports, policy, acceptance, mail over verified STARTTLS."""

from __future__ import annotations

import email
import json
import re
import socket
import ssl

import pytest
from aiosmtpd.controller import Controller

from .conftest import ROOT

PLAYBOOK = ROOT / "playbooks" / "pool_recommendations.yml"
INVENTORY = ROOT / "inventories" / "lab"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(lab_pki):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(lab_pki.cert_path), str(lab_pki.key_path))
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd needs a concrete port to check that it is up
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="localhost", port=inbox.port, tls_context=context, require_starttls=True)
    controller.start()
    yield inbox
    controller.stop()


def reports(lab, suffix):
    return sorted((lab.workdir / "reports").glob("pool-recommendations-*.%s" % suffix))


def recap_changed(output):
    return sum(int(n) for n in re.findall(r"changed=(\d+)", output.split("PLAY RECAP")[-1]))


def run(ansible, lab, **kwargs):
    env = {"VMOPS_REPORT_DIR": str(lab.workdir / "reports")}
    return ansible(PLAYBOOK, inventory=INVENTORY, env=env, **kwargs)


def recommendation_state(lab):
    state = lab.admin("tgc1").state()
    pool = next(p for p in state["pools"] if p["name"] == "pool-prod")
    return next(r for r in state["recommendations"] if r["id"] == pool["current"])


def test_report_only_writes_text_markdown_and_json_and_changes_nothing(lab, ansible):
    result = run(ansible, lab).assert_ok()
    assert "Pool pool-prod: AVAILABLE" in result.output and "Pool pool-lab: NO_RECOMMENDATION_NEEDED" in result.output
    assert "Decision: report only" in result.output
    markdown = reports(lab, "md")[0].read_text()
    assert "| %s | FLASH |" % lab.endpoints["vmstore1"]["hostname"] in markdown and "FLASH" in markdown and "SPACE" in markdown and "IOPS" in markdown
    assert "dev-sql02:" in markdown and "loses replication protection for 1 VM(s): web-vm01." in markdown
    assert "Tintri Global Center %s," % lab.endpoints["tgc1"]["hostname"] in markdown
    data = json.loads(reports(lab, "json")[0].read_text())
    prod = next(p for p in data["pools"] if p["name"] == "pool-prod")
    assert prod["recommendation"]["vms_moved"] == 3 and prod["recommendation"]["loses_protection"] is True
    assert recommendation_state(lab)["state"] == "AVAILABLE"
    # The first run may create the report directory; after that a report-only run changes nothing.
    assert recap_changed(run(ansible, lab).assert_ok().output) == 0


def test_policy_refuses_protection_loss_then_accepts_when_allowed_and_is_idempotent(lab, ansible):
    refused = run(ansible, lab, extra_vars={"pool_recommendations_accept": True}).assert_ok()
    assert "not accepted" in refused.output and "protection" in refused.output
    assert recommendation_state(lab)["state"] == "AVAILABLE"

    allowed = {"pool_recommendations_accept": True, "pool_recommendations_allow_protection_loss": True}
    planned = run(ansible, lab, extra_vars=allowed, check=True).assert_ok()
    assert recommendation_state(lab)["state"] == "AVAILABLE", "check mode accepted the recommendation"
    assert recap_changed(planned.output) >= 1

    accepted = run(ansible, lab, extra_vars=allowed, verbosity=4).assert_ok()  # no password even at -vvvv
    assert "accepted (execution COMPLETED_OK)" in accepted.output
    final = recommendation_state(lab)
    assert final["state"] == "ACCEPTED" and final["executionState"] == "COMPLETED_OK"
    moved = {v["name"] for v in lab.admin("vmstore2").state()["vms"] if v["live"]}
    assert {"dev-sql02", "web-vm01", "app01"} <= moved
    audit = [json.loads(line) for line in (lab.workdir / "audit" / "pool_recommendations.jsonl").read_text().splitlines()]
    assert any(r["step"] == "accept" and r["result"] == "changed" and r["target"] == "pool-prod" for r in audit)

    again = run(ansible, lab, extra_vars=allowed).assert_ok()
    assert recap_changed(again.output) == 0


def test_report_is_mailed_over_verified_starttls(lab, ansible, smtp):
    extra = {"pool_recommendations_mail_to": ["storage@example.test"], "pool_recommendations_mail_host": "localhost",
             "pool_recommendations_mail_port": smtp.port, "pool_recommendations_mail_ca_path": str(lab.pki.ca_path)}
    run(ansible, lab, extra_vars=extra).assert_ok()
    assert len(smtp.messages) == 1
    recipients, message = smtp.messages[0]
    assert recipients == ["storage@example.test"]
    assert message["Subject"].startswith("VMstore pool recommendations")
    parts = list(message.walk())
    body = next(p for p in parts if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "Pool pool-prod: AVAILABLE" in body
    attachment = next(p for p in parts if p.get_filename())
    assert attachment.get_filename().endswith(".json")
    assert json.loads(attachment.get_payload(decode=True))["pools"]


def test_unknown_pool_and_vmstore_instead_of_tgc_fail_clearly(lab, ansible):
    unknown = run(ansible, lab, extra_vars={"pool_recommendations_pools": ["pool-nope"]}).assert_failed()
    assert "Unknown pool(s)" in unknown.output and "pool-nope" in unknown.output
    vmstore = lab.endpoints["vmstore1"]
    wrong = run(ansible, lab, extra_vars={"pool_recommendations_tgc": vmstore["hostname"],
                                          "pool_recommendations_username": vmstore["username"],
                                          "pool_recommendations_password": vmstore["password"]}).assert_failed()
    assert "Tintri Global Center" in wrong.output and "Traceback" not in wrong.output


def test_transient_faults_are_ridden_out_and_a_failed_execution_is_reported(lab, ansible):
    admin = lab.admin("tgc1")
    for rule in ({"method": "GET", "path": "/api/v310/vmstorePool", "status": 503, "count": 2},
                 {"method": "GET", "path": "/api/v310/vmstorePool/*/recommendation/*", "action": "drop", "count": 1},
                 {"method": "GET", "path": "/api/v310/vmstorePool", "status": 401, "code": "ERR-API-0104", "count": 1},
                 {"type": "task", "task_type": "RECOMMENDATION", "when": "midway", "count": 1,
                  "code": "ERR-API-3142", "message": "Relocate VMs failed"}):
        admin.add_fault(rule)
    allowed = {"pool_recommendations_accept": True, "pool_recommendations_allow_protection_loss": True}
    result = run(ansible, lab, extra_vars=allowed).assert_failed()
    assert "COMPLETED_FAILED" in result.output
    markdown = reports(lab, "md")[0].read_text()
    assert "Decision: FAILED" in markdown, "the report must be written even when the execution fails"
    audit = [json.loads(line) for line in (lab.workdir / "audit" / "pool_recommendations.jsonl").read_text().splitlines()]
    assert any(r["step"] == "accept" and r["result"] == "failed" for r in audit)
    assert recommendation_state(lab)["executionState"] == "COMPLETED_FAILED"
