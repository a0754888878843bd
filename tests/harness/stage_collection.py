"""Prepare the collection for ansible-test and ansible-playbook.

ansible-test insists on running from ``.../ansible_collections/<namespace>/<name>``, so the
tracked and new (not ignored) files are copied into ``.tmp/test/ansible_collections/vmops/datacenter``.
Playbooks and the lab use a symlink tree at ``.tmp/collections`` so edits show up immediately.

ansible-test bootstraps pip in every virtual environment it creates with a get-pip script it
downloads from the internet. This machine has only package-index access, so the harness writes
a small stand-in into ansible-test's cache that runs ``ensurepip`` and then pip itself.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE, NAME = "vmops", "datacenter"
# Not part of the collection: staged copies leave them out so sanity covers what ships. The test doubles of other
# collections (tests/integration/doubles) are theirs, not this collection's code.
NOT_STAGED = ("simulators/", "benchmarks/", ".ci/", "tests/integration/doubles/")

GET_PIP_STANDIN = '''"""Offline stand-in for get-pip.py, written by vmops.datacenter's test harness."""
import subprocess
import sys

# In a child process: ensurepip points PIP_CONFIG_FILE at /dev/null for the rest of its process.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
'''


def project_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode()
    return sorted(p for p in out.split("\0") if p and not p.startswith(NOT_STAGED) and (ROOT / p).is_file())


def stage_copy() -> Path:
    dest = ROOT / ".tmp" / "test" / "ansible_collections" / NAMESPACE / NAME
    wanted = set(project_files())
    # Keep tests/output: ansible-test caches its virtual environments there.
    for path in sorted(dest.rglob("*"), reverse=True) if dest.exists() else []:
        rel = path.relative_to(dest).as_posix()
        if rel.startswith((".git", "tests/output")):
            continue
        if path.is_file() or path.is_symlink():
            if rel not in wanted:
                path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for rel in wanted:
        source, target = ROOT / rel, dest / rel
        if target.exists() and target.read_bytes() == source.read_bytes():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    # The copy lives under the project's ignored .tmp/; a repository of its own keeps
    # ansible-test from asking the outer one (which ignores every staged file).
    git = ["git", "-c", "user.name=stage", "-c", "user.email=stage@localhost"]
    if not (dest / ".git").exists():
        subprocess.run(git + ["init", "-q"], cwd=dest, check=True)
        (dest / ".git" / "info" / "exclude").write_text("tests/output/\n")
    subprocess.run(git + ["add", "-A"], cwd=dest, check=True)
    return dest


def stage_link() -> Path:
    link = ROOT / ".tmp" / "collections" / "ansible_collections" / NAMESPACE / NAME
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        if link.exists():
            shutil.rmtree(link)
        link.symlink_to(ROOT, target_is_directory=True)
    return link.parents[2]


def install_get_pip_standin() -> Path:
    from ansible_test._internal.python_requirements import get_venv_packages

    version = get_venv_packages(types.SimpleNamespace(version="%d.%d" % sys.version_info[:2]))["pip"]
    cache = Path(os.path.expanduser("~/.ansible/test/cache")) / ("get_pip_%s.py" % version.replace(".", "_"))
    cache.parent.mkdir(parents=True, exist_ok=True)
    if not cache.exists() or cache.read_text() != GET_PIP_STANDIN:
        cache.write_text(GET_PIP_STANDIN)
    return cache


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["copy", "link", "get-pip"])
    args = parser.parse_args()
    result = {"copy": stage_copy, "link": stage_link, "get-pip": install_get_pip_standin}[args.what]()
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
