# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX definitions in docs/awx, read and applied the way AWX applies them.

``inject(credential_type, inputs, private_data_dir)`` follows AWX's custom credential injection:
each ``file`` injector is rendered into a private file under ``<private_data_dir>/env`` (mode 0600)
whose path is ``tower.filename.<name>``; ``env`` templates are rendered in a sandbox with the inputs
(boolean fields left out count as false) and become the job's environment; ``extra_vars``
templates become extra variables. ``survey_answers(template, answers)`` gives the extra variables a
launch with that survey sends: the answers, else each question's default.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

AWX_DIR = Path(__file__).resolve().parents[3] / "docs" / "awx"
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


class _Namespace(dict):
    """Attribute access, as AWX's templates use for tower.filename.<name>."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def load(kind, name):
    return yaml.safe_load((AWX_DIR / kind / ("%s.yml" % name)).read_text())


def names(kind):
    return sorted(p.stem for p in (AWX_DIR / kind).glob("*.yml"))


def inject(credential_type, inputs, private_data_dir):
    """(env, extra_vars, files) for a credential of ``credential_type`` with ``inputs``."""
    fields = credential_type["inputs"]["fields"]
    missing = [f for f in credential_type["inputs"].get("required", []) if not inputs.get(f)]
    if missing:
        raise ValueError("required credential inputs missing: %s" % ", ".join(missing))
    namespace = {f["id"]: False for f in fields if f["type"] == "boolean"}
    namespace.update(inputs)
    sandbox = ImmutableSandboxedEnvironment()
    injectors = credential_type.get("injectors", {})

    files = {}
    env_dir = Path(private_data_dir) / "env"
    env_dir.mkdir(parents=True, exist_ok=True)
    filenames = _Namespace()
    for label, template in injectors.get("file", {}).items():
        handle, path = tempfile.mkstemp(dir=str(env_dir))
        with os.fdopen(handle, "w") as stream:
            stream.write(sandbox.from_string(template).render(**namespace))
        os.chmod(path, 0o600)
        filenames[label.split(".", 1)[1] if "." in label else label] = path
        files[label] = path
    namespace["tower"] = _Namespace(filename=filenames)

    def render(section):
        return {key: sandbox.from_string(template).render(**namespace)
                for key, template in injectors.get(section, {}).items()}

    return render("env"), render("extra_vars"), files


def survey_answers(template, answers=None):
    """Extra variables from the survey: given answers, else defaults; unanswered optional questions send nothing."""
    answers = dict(answers or {})
    extra = {}
    for question in template["survey_spec"]["spec"]:
        variable = question["variable"]
        if variable in answers:
            value = answers.pop(variable)
        elif question.get("default") not in (None, ""):
            value = question["default"]
        elif question.get("required"):
            raise ValueError("survey question %s needs an answer" % variable)
        else:
            continue
        if question["type"] == "integer":
            value = int(value)
        elif question["type"] == "float":
            value = float(value)
        elif question["type"] == "multiselect" and isinstance(value, str):
            value = [v for v in value.split("\n") if v]
        extra[variable] = value
    if answers:
        raise ValueError("not survey questions: %s" % ", ".join(sorted(answers)))
    return extra
