# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbooks as AWX runs them: ansible-runner, survey answers as extra vars, credentials injected.

Each job gets what an AWX job with the job template of docs/awx/job_templates gets: a private data
directory, an inventory with the controller only, the survey's extra variables plus ``awx_job_id``,
and the environment (and CA files) the credential types of docs/awx/credential_types inject, with
the inputs a user would give the credentials. Nothing else reaches the playbook: no connection
variables, no lab inventory.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import ansible_runner

from .conftest import COLLECTIONS, ROOT

sys.path.insert(0, str(ROOT))
from tests.unit.framework import awx  # noqa: E402  (the repository root is on sys.path now)

BUCKET = "vmops-backups"
# The AWX built-in Amazon Web Services credential's injector (username/password/security_token inputs).
AWS_CREDENTIAL_ENV = {"username": "AWS_ACCESS_KEY_ID", "password": "AWS_SECRET_ACCESS_KEY",
                      "security_token": "AWS_SECURITY_TOKEN"}


class Job:
    """One AWX-style job run through ansible-runner."""

    def __init__(self, lab, runbook, job_id, answers, credentials, template_vars=None):
        self.lab = lab
        self.runbook = runbook
        self.job_id = job_id
        self.template = awx.load("job_templates", runbook)
        self.private_data_dir = lab.workdir / ("job-%d" % job_id)
        self.private_data_dir.mkdir()
        # The job template's own extra_vars (here: short polls for the simulated lab), then the survey's.
        self.extravars = dict(template_vars or {})
        self.extravars.update(awx.survey_answers(self.template, answers))
        self.extravars.update(awx_job_id=job_id, tower_job_id=job_id, awx_job_template_name=self.template["name"],
                              awx_user_name="operator")
        # The job's environment: the execution environment's collection path, AWX's task environment
        # (where audit trails and reports go) and then what the credentials inject.
        self.envvars = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
                        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS), "ANSIBLE_FORCE_COLOR": "0",
                        "ANSIBLE_LOCAL_TEMP": str(self.private_data_dir / "tmp"),
                        "ANSIBLE_HOME": str(self.private_data_dir / "home"),
                        "VMOPS_AUDIT_DIR": str(lab.workdir / "audit"),
                        "VMOPS_REPORT_DIR": str(lab.workdir / "reports")}
        self.secrets = set(lab.passwords)
        for kind, inputs in credentials:
            if kind == "aws":
                self.envvars.update({AWS_CREDENTIAL_ENV[k]: v for k, v in inputs.items()})
                self.secrets.add(inputs["password"])
                continue
            credential_type = awx.load("credential_types", kind)
            env, extra, _files = awx.inject(credential_type, inputs, self.private_data_dir)
            self.envvars.update(env)
            self.extravars.update(extra)
            self.secrets.update(v for f in credential_type["inputs"]["fields"] if f.get("secret")
                                for v in [inputs.get(f["id"])] if v)
        self.result = None

    def run(self):
        inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                     "ansible_python_interpreter": sys.executable}}}}
        self.result = ansible_runner.run(
            private_data_dir=str(self.private_data_dir), project_dir=str(ROOT),
            playbook=self.template["playbook"], inventory=inventory, extravars=self.extravars,
            envvars=self.envvars, ident="job-%d" % self.job_id, quiet=True, timeout=600)
        return self

    @property
    def events(self):
        return list(self.result.events)

    @property
    def stdout(self):
        return (Path(self.result.config.artifact_dir) / "stdout").read_text()

    def by_type(self, event):
        return [e for e in self.events if e["event"] == event]

    def ok_tasks(self):
        return [e["event_data"].get("task") for e in self.by_type("runner_on_ok")]

    def ok_events(self, task):
        return [e for e in self.by_type("runner_on_ok") if e["event_data"].get("task") == task]

    def assert_successful(self, summary_task):
        artifacts = Path(self.result.config.artifact_dir)
        assert self.result.status == "successful" and self.result.rc == 0, self.stdout[-4000:]
        assert artifacts == self.private_data_dir / "artifacts" / ("job-%d" % self.job_id)
        for name in ("stdout", "rc", "status", "job_events"):
            assert (artifacts / name).exists(), name
        assert (artifacts / "rc").read_text().strip() == "0"
        assert (artifacts / "status").read_text().strip() == "successful"
        assert not self.by_type("runner_on_failed") and not self.by_type("runner_on_unreachable")
        assert self.by_type("playbook_on_start") and self.by_type("playbook_on_stats")
        stats = self.by_type("playbook_on_stats")[-1]["event_data"]
        assert not stats["failures"] and not stats["dark"], stats
        assert stats["ok"].get("localhost", 0) >= 1
        for host, count in stats["ok"].items():
            assert len([e for e in self.by_type("runner_on_ok") if e["event_data"]["host"] == host]) == count, host
        assert summary_task in self.ok_tasks(), sorted(set(self.ok_tasks()))
        assert "PLAY RECAP" in self.stdout
        self.assert_no_secrets()
        return self

    def assert_no_secrets(self):
        assert self.secrets, "no secrets to look for"
        texts = [self.stdout] + [json.dumps(e) for e in self.events]
        # Every artefact AWX keeps (events, stdout, status); ansible-runner's `command` file records the
        # job's environment, as AWX's private data directory does, and goes with it.
        artifacts = Path(self.result.config.artifact_dir)
        texts += [p.read_text() for p in artifacts.rglob("*") if p.is_file() and p.name != "command"]
        texts += [p.read_text() for p in (self.lab.workdir / "audit").glob("*.jsonl")]
        for secret in self.secrets:
            assert not any(secret in text for text in texts), "a credential secret appears in the job's output"


def tintri_credential(lab, name):
    endpoint = lab.endpoints[name]
    return ("tintri", {"hostname": endpoint["hostname"], "username": endpoint["username"],
                       "password": endpoint["password"], "ca_cert": Path(lab.pki.ca_path).read_text()})


def s3_credentials(lab):
    s3 = lab.s3
    return [("aws", {"username": s3["access_key"], "password": s3["secret_key"]}),
            ("s3_endpoint", {"endpoint_url": s3["endpoint_url"], "region": s3["region"],
                             "ca_cert": Path(lab.pki.ca_path).read_text()})]


def audit(lab, runbook):
    path = lab.workdir / "audit" / ("%s.jsonl" % runbook)
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_syncvm_refresh_job(lab):
    before = {v["name"]: v for v in lab.admin("vmstore1").state()["vms"] if v["live"]}
    job = Job(lab, "syncvm_refresh", 4101, {"syncvm_refresh_source_vm": "prod-sql01",
                                            "syncvm_refresh_targets": "dev-sql02\n"},
              [tintri_credential(lab, "vmstore1")], {"syncvm_refresh_poll_interval": 1}).run()
    job.assert_successful("Report every VM and fail when one failed")
    synced = job.ok_events("Replace the data disks with SyncVM")
    assert [(e["event_data"]["host"], e["event_data"]["res"]["changed"]) for e in synced] == [("dev-sql02", True)]
    assert job.by_type("playbook_on_stats")[-1]["event_data"]["changed"].get("dev-sql02", 0) >= 1
    trail = audit(lab, "syncvm_refresh")
    assert {r["run_id"] for r in trail} == {"4101"}
    assert ("dev-sql02", "sync", "changed") in [(r["target"], r["step"], r["result"]) for r in trail]
    # The survey's string answers ("true"/"false") were taken as booleans: the safety snapshot exists.
    after = lab.admin("vmstore1").state()
    assert any(s["vmName"] == "dev-sql02" and not s["deleted"] for s in after["snapshots"])
    assert {v["name"] for v in after["vms"] if v["live"]} == set(before)


def test_pool_recommendations_job_accepts_by_survey_policy(lab):
    job = Job(lab, "pool_recommendations", 4102,
              {"pool_recommendations_accept": "true", "pool_recommendations_allow_protection_loss": "true"},
              [tintri_credential(lab, "tgc1")], {"pool_recommendations_poll_interval": 1}).run()
    job.assert_successful("Show the report")
    assert "accepted (execution COMPLETED_OK)" in job.stdout
    state = lab.admin("tgc1").state()
    pool = next(p for p in state["pools"] if p["name"] == "pool-prod")
    assert next(r for r in state["recommendations"] if r["id"] == pool["current"])["state"] == "ACCEPTED"
    assert sorted((lab.workdir / "reports").glob("pool-recommendations-*"))
    assert all(r["run_id"] == "4102" for r in audit(lab, "pool_recommendations"))


def test_protect_then_restore_jobs_use_the_job_id_as_transaction(s3_lab):
    lab = s3_lab
    protect = Job(lab, "protect_to_s3", 4103,
                  {"protect_to_s3_vms": "prod-sql01", "protect_to_s3_bucket": BUCKET,
                   "protect_to_s3_export_mount": lab.endpoints["vmstore1"]["datastore_dir"],
                   "protect_to_s3_s3_compatible": "true", "protect_to_s3_concurrency": "4"},
                  [tintri_credential(lab, "vmstore1")] + s3_credentials(lab), {"protect_to_s3_poll_interval": 1}).run()
    protect.assert_successful("Report every VM and fail when one failed")
    keys = [o["Key"] for o in lab.s3_server.client().list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert "vmops/prod-sql01/4103/_vmops_manifest.json" in keys, keys
    record = audit(lab, "protect_to_s3")[-1]
    assert record["details"]["transaction_id"] == "4103" and record["result"] == "changed"

    restore = Job(lab, "restore_from_s3", 4104,
                  {"restore_from_s3_vm": "prod-sql01", "restore_from_s3_bucket": BUCKET,
                   "restore_from_s3_export_mount": lab.endpoints["vmstore2"]["datastore_dir"],
                   "restore_from_s3_s3_compatible": "true"},
                  [tintri_credential(lab, "vmstore2")] + s3_credentials(lab)).run()
    restore.assert_successful("Confirm the target VMstore sees the restored VM")
    assert "visible on the VMstore as prod-sql01" in restore.stdout
    restored = Path(lab.endpoints["vmstore2"]["datastore_dir"]) / "restored" / "prod-sql01-4103"
    assert json.loads((restored / ".vmops-restore.json").read_text())["transaction_id"] == "4103"


def psrp_credential(vmm_lab):
    endpoint = vmm_lab.endpoint
    return ("psrp", {"server": endpoint["server"], "port": str(endpoint["port"]), "username": endpoint["username"],
                     "password": endpoint["password"], "auth": "basic",
                     "ca_cert": Path(endpoint["ca_path"]).read_text()})


def test_checkpoint_batch_job_from_the_survey(vmm_lab):
    lab = vmm_lab.lab
    vmm = vmm_lab.server.vmm
    before = {vm["id"]: vm["status"] for vm in vmm.list_vms(custom_name="Custom1", custom_value="7")}
    job = Job(lab, "checkpoint_batch", 4105,
              {"checkpoint_batch_value": "7", "checkpoint_batch_property": "Custom1", "checkpoint_batch_scom": "true",
               "checkpoint_batch_allow_empty": "false"},
              [psrp_credential(vmm_lab)], {"checkpoint_batch_poll_interval": 0.5}).run()
    job.assert_successful("Show the report")
    assert {vm["id"]: vm["status"] for vm in vmm.list_vms(custom_name="Custom1", custom_value="7")} == before
    names = {c["name"] for vid in before for c in vmm.list_checkpoints(vid)}
    assert names == {"vmops batch 7 run 4105"}, names  # the checkpoint is named after the AWX job
    assert {r["run_id"] for r in audit(lab, "checkpoint_batch")} == {"4105"}
    assert not any(o["in_maintenance"] for o in vmm_lab.server.scom.list_objects())


def test_cluster_patch_job_from_the_survey(vmm_lab, configmgr_lab):
    lab = vmm_lab.lab
    cm = configmgr_lab.endpoint
    configmgr = ("configmgr", {"server": cm["hostname"], "username": cm["username"], "password": cm["password"],
                               "ca_cert": Path(cm["ca_path"]).read_text()})
    job = Job(lab, "cluster_patch", 4106,
              {"cluster_patch_hosts": "hv-test-01\nhv-test-02, hv-test-03\n",
               "cluster_patch_deployment": "Hyper-V hosts 2026-11 - Hyper-V patch"},
              [psrp_credential(vmm_lab), configmgr],
              {"cluster_patch_poll_interval": 0.5, "vmops_progress_interval": 0.2}).run()
    job.assert_successful("Report every host and fail when the rollout stopped")
    assert "3 of 3 clustered hosts done, 0 failed, 0 not reached" in " ".join(job.stdout.split())
    # The drains showed life while they ran: status lines AWX keeps as verbose events.
    progress = [e["stdout"] for e in job.by_type("verbose") if e.get("stdout", "").startswith("[hv-test-0")]
    assert any(" -> localhost] VMM job '" in line for line in progress), progress
    assert not any(h["in_maintenance"] for h in vmm_lab.server.vmm.list_hosts())
    assert {r["run_id"] for r in audit(lab, "cluster_patch")} == {"4106"}
