# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/awx: credential types inject only variables the collection reads; surveys ask only for runbook inputs."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
import yaml

from ansible_collections.vmops.datacenter.plugins import module_utils
from ansible_collections.vmops.datacenter.tests.unit.framework import awx

COLLECTION = awx.AWX_DIR.parents[1]
CREDENTIAL_TYPES = awx.names("credential_types")
JOB_TEMPLATES = awx.names("job_templates")
RUNBOOKS = sorted(p.stem for p in (COLLECTION / "playbooks").glob("*.yml"))
# Where a file injector's path goes: empty when no certificate was given, which the modules treat as unset.
CA_VARIABLES = {"TINTRI_CA_PATH", "VMOPS_PSRP_CA_PATH", "CONFIGMGR_CA_PATH", "AWS_CA_BUNDLE"}
BOOLEAN_TEXT = {"true", "false"}


def env_names_read():
    """Every environment variable the collection's modules and roles read."""
    found = set()
    for path in (COLLECTION / "plugins").rglob("*.py"):
        for group in re.findall(r"env_fallback,\s*\[([^\]]*)\]", path.read_text()):
            # Whole quoted names only (a prefix joined to an option name is covered below).
            found.update(re.findall(r"[\"']([A-Z][A-Z0-9_]*[A-Z0-9])[\"']", group))
    for path in (COLLECTION / "roles").rglob("*.yml"):
        found.update(re.findall(r"lookup\('ansible\.builtin\.env', '([A-Z][A-Z0-9_]+)'", path.read_text()))
    # Argument specs built in code (for example the VMOPS_PSRP_* fallbacks, made from the option names).
    for info in pkgutil.iter_modules(module_utils.__path__):
        module = importlib.import_module("%s.%s" % (module_utils.__name__, info.name))
        for name in dir(module):
            if name.endswith("argument_spec") and callable(getattr(module, name)):
                try:
                    spec = getattr(module, name)()
                except TypeError:
                    continue
                for option in spec.values() if isinstance(spec, dict) else ():
                    fallback = option.get("fallback") or (None, [])
                    found.update(fallback[1] if isinstance(fallback[1], list) else [])
    return found


READ = env_names_read()


def test_the_definitions_exist():
    assert {"tintri", "psrp", "configmgr", "s3_endpoint"} <= set(CREDENTIAL_TYPES)
    assert set(RUNBOOKS) | {"checkpoint_batch"} <= set(JOB_TEMPLATES)


@pytest.mark.parametrize("name", CREDENTIAL_TYPES)
def test_credential_type_injects_only_variables_the_collection_reads(name):
    credential_type = awx.load("credential_types", name)
    injected = set(credential_type["injectors"]["env"])
    if not injected & READ:
        pytest.skip("no module of this tree reads %s yet" % ", ".join(sorted(injected)))
    assert sorted(injected - READ) == [], "injected but never read"


def test_the_awx_amazon_web_services_credential_is_read_whole():
    # AWX's built-in AWS credential injects these three (the token only for temporary credentials).
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN"} <= READ


@pytest.mark.parametrize("name", CREDENTIAL_TYPES)
def test_credential_type_shape_and_rendering(name, tmp_path):
    credential_type = awx.load("credential_types", name)
    assert credential_type["kind"] == "cloud"
    fields = {f["id"]: f for f in credential_type["inputs"]["fields"]}
    assert set(credential_type["inputs"]["required"]) <= set(fields)
    for field in fields.values():
        assert field["type"] in ("string", "boolean"), field
        if field["id"] in ("password", "secret_key"):
            assert field.get("secret") is True, "%s must be secret" % field["id"]
        if "choices" in field and "default" in field:
            assert field["default"] in field["choices"]
    assert "extra_vars" not in credential_type["injectors"], "secrets belong in the environment, not extra vars"

    # Only the required inputs: every variable gets a value the modules accept.
    minimal = {f: "x-%s" % f for f in credential_type["inputs"]["required"]}
    env, _extra, files = awx.inject(credential_type, minimal, tmp_path / "minimal")
    for key, value in env.items():
        assert value or key in CA_VARIABLES, "%s renders empty" % key
        if key in CA_VARIABLES:
            assert value == "", "%s names a file without a certificate in it" % key
        if key.endswith("_PORT"):
            assert value.isdigit(), "%s=%r" % (key, value)
        if key.endswith("_SSL"):
            assert value in BOOLEAN_TEXT
    # Everything given: the CA lands in a private file the CA variable names.
    full = dict(minimal, ca_cert="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    full.update({f: fields[f]["choices"][-1] for f in fields if "choices" in fields[f]})
    env, _extra, files = awx.inject(credential_type, full, tmp_path / "full")
    ca_keys = [k for k in env if k in CA_VARIABLES]
    assert len(ca_keys) == 1 and env[ca_keys[0]] == files["template.ca_cert"]
    with open(files["template.ca_cert"]) as handle:
        assert handle.read() == full["ca_cert"]


def argument_options(runbook):
    path = COLLECTION / "roles" / runbook / "meta" / "argument_specs.yml"
    if not path.exists():
        pytest.skip("the %s role is not in this tree yet" % runbook)
    return yaml.safe_load(path.read_text())["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("runbook", JOB_TEMPLATES)
def test_job_template_survey_asks_only_for_runbook_inputs(runbook):
    template = awx.load("job_templates", runbook)
    options = argument_options(runbook)
    playbook = (COLLECTION / template["playbook"]).read_text()
    assert template["playbook"] == "playbooks/%s.yml" % runbook
    assert template["survey_enabled"] is True
    variables = [q["variable"] for q in template["survey_spec"]["spec"]]
    assert len(variables) == len(set(variables)), "a variable is asked twice"
    for question in template["survey_spec"]["spec"]:
        variable, kind = question["variable"], question["type"]
        assert kind in awx.SURVEY_TYPES, question
        assert question["question_name"] and isinstance(question["required"], bool)
        # A role input, or one the playbook itself reads (the VM list, serial).
        assert variable in options or re.search(r"\b%s\b" % variable, playbook), \
            "%s is neither in the %s argument spec nor read by its playbook" % (variable, runbook)
        option = options.get(variable, {})
        if option.get("required"):
            assert question["required"], "%s is required by the role" % variable
        if kind in ("multiplechoice", "multiselect"):
            assert isinstance(question["choices"], list) and question["choices"]
            if "default" in question:
                assert set(str(question["default"]).split("\n")) <= set(question["choices"])
            if option.get("type") == "bool":
                assert set(question["choices"]) == BOOLEAN_TEXT
            elif option.get("choices"):
                assert set(question["choices"]) <= {str(c) for c in option["choices"]}
        if kind in ("integer", "float"):
            assert option.get("type", "int") in ("int", "float")
        # Where the role has a plain default, the survey offers the same one.
        if "default" in question and "default" in option and "<" not in str(option["default"]) \
                and "$" not in str(option["default"]) and "{{" not in str(option["default"]):
            expected = option["default"]
            if isinstance(expected, bool):
                expected = str(expected).lower()
            elif isinstance(expected, list):
                expected = "\n".join(expected)
            assert str(question["default"]) == str(expected), variable


@pytest.mark.parametrize("runbook", JOB_TEMPLATES)
def test_survey_defaults_pass_the_role_argument_spec(runbook):
    template = awx.load("job_templates", runbook)
    options = argument_options(runbook)
    answers = {q["variable"]: "x" for q in template["survey_spec"]["spec"] if q["required"] and "default" not in q}
    extra = awx.survey_answers(template, answers)
    for variable, value in extra.items():
        kind = options.get(variable, {}).get("type")
        if kind == "bool":
            assert value in BOOLEAN_TEXT
        elif kind == "int":
            assert isinstance(value, int)
        elif kind == "list":
            assert isinstance(value, (list, str))
