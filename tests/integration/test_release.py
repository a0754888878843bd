# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release artefacts: the collection tarball and the execution environment's build context."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
TARBALL = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])
# The cluster_patch win_updates method runs ansible.windows.win_updates: the image installs that collection too.
EE_WINDOWS = {"name": "ansible.windows", "version": ">=2.0.0,<4.0.0"}
RUNBOOKS = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").exists())
# Never shipped: development, test and lab material.
NOT_SHIPPED = ("simulators", "tests", "benchmarks", ".venv", ".tmp", ".lab", ".ci", ".git", ".gitignore",
               ".ansible-lint", "Makefile", "requirements-dev.txt", "DEVELOPERS.md", "ansible.cfg", "ruff.toml",
               "execution-environment.yml")


def run(cmd, cwd):
    # Run outside the checkout and without ANSIBLE_* settings, so its ansible.cfg plays no part.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_HOME"] = str(Path(cwd) / ".ansible-home")
    completed = subprocess.run([str(c) for c in cmd], cwd=str(cwd), env=env, capture_output=True, text=True,
                               timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    run([BIN / "ansible-galaxy", "collection", "build", ROOT, "--output-path", out], cwd=out)
    path = out / TARBALL
    assert path.is_file(), sorted(p.name for p in out.iterdir())
    return path


def members(path):
    with tarfile.open(path) as archive:
        return {m.name.removeprefix("./") for m in archive.getmembers()}


def read_member(path, name):
    with tarfile.open(path) as archive:
        return archive.extractfile(name).read().decode()


def test_tarball_holds_the_collection_and_nothing_else(tarball):
    names = members(tarball)
    tops = {n.split("/")[0] for n in names}
    for required in ("MANIFEST.json", "FILES.json", "README.md", "plugins", "roles", "playbooks", "meta", "docs",
                     "changelogs", "requirements.txt", "bindep.txt"):
        assert required in tops, "%s missing from the tarball" % required
    for required in ("meta/runtime.yml", "meta/execution-environment.yml", "plugins/modules/vmstore_vm_sync.py",
                     "plugins/module_utils/_tintri.py", "plugins/doc_fragments/tintri.py"):
        assert required in names, "%s missing from the tarball" % required
    for runbook in RUNBOOKS:
        assert "roles/%s/meta/argument_specs.yml" % runbook in names
        assert "playbooks/%s.yml" % runbook in names
    leaked = sorted(n for n in names if n.split("/")[0] in NOT_SHIPPED or "__pycache__" in n or n.endswith(".pyc"))
    assert not leaked, "not part of the collection: %s" % leaked[:20]


def test_manifest_and_files_list_match_galaxy_yml_and_the_tarball(tarball):
    manifest = json.loads(read_member(tarball, "MANIFEST.json"))
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])
    files = json.loads(read_member(tarball, "FILES.json"))
    listed = {f["name"] for f in files["files"] if f["name"] != "."}
    assert listed == members(tarball) - {"MANIFEST.json", "FILES.json", ""}


def test_ee_definition_names_the_tarball_of_this_version():
    ee = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    assert ee["version"] == 3
    assert ee["dependencies"]["galaxy"]["collections"] == [{"name": "collections/" + TARBALL, "type": "file"},
                                                           EE_WINDOWS]
    assert [Path(f["src"]).name for f in ee["additional_build_files"]] == [TARBALL]
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}


def test_ansible_builder_create_writes_the_build_context(tarball, tmp_path):
    # The definition as it is, next to the tarball where `make ee` puts it.
    shutil.copy(ROOT / "execution-environment.yml", tmp_path / "execution-environment.yml")
    ee = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    dist = tmp_path / Path(ee["additional_build_files"][0]["src"]).parent
    dist.mkdir(parents=True)
    shutil.copy(tarball, dist / TARBALL)
    context = tmp_path / "context"
    run([BIN / "ansible-builder", "create", "--file", "execution-environment.yml", "--context", context,
         "--output-filename", "Containerfile"], cwd=tmp_path)

    containerfile = (context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="%s"' % ee["images"]["base_image"]["name"] in containerfile
    assert "ansible-core" in containerfile and "ansible-runner" in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "introspect.py introspect" in containerfile and "install-from-bindep" in containerfile

    build = context / "_build"
    assert yaml.safe_load((build / "requirements.yml").read_text()) == {
        "collections": [{"name": "collections/" + TARBALL, "type": "file"}, EE_WINDOWS]}
    shipped = build / "collections" / TARBALL
    assert shipped.is_file()
    # The image build reads the collection's dependencies from the tarball in the context.
    for name in ("meta/execution-environment.yml", "requirements.txt", "bindep.txt"):
        assert read_member(shipped, name) == (ROOT / name).read_text(), name


def requirement_lines(path):
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_ansible_builder_finds_the_collection_dependencies(tarball, tmp_path):
    collections = tmp_path / "collections"
    run([BIN / "ansible-galaxy", "collection", "install", tarball, "--force",
         "-p", collections / "ansible_collections"], cwd=tmp_path)
    found = yaml.safe_load(run([BIN / "ansible-builder", "introspect", collections], cwd=tmp_path))
    origin = "  # from collection %s.%s" % (GALAXY["namespace"], GALAXY["name"])
    assert found["python"] == [line + origin for line in requirement_lines(ROOT / "requirements.txt")]
    assert found["system"] == [line + origin for line in requirement_lines(ROOT / "bindep.txt")]
