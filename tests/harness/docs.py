"""Build and check the documentation site (make docs, make docs-lint).

The site is docs/*.rst (hand-written pages), the module and plugin reference antsibull-docs generates from
the collection, and the release notes antsibull-changelog would write for the version in galaxy.yml. It is
built offline from a staged copy in .tmp/docs/src into .tmp/docs/html with warnings as errors, so a broken
reference, a missing file or invalid reStructuredText fails the build.

``lint`` also runs ``antsibull-changelog lint`` and ``antsibull-docs lint-collection-docs --plugin-docs`` on
the staged collection (the markup and references inside DOCUMENTATION, EXAMPLES and RETURN), and checks that
the relative links of the Markdown files read in the source tree (README, DEVELOPERS, docs/**/*.md) point at
files that exist.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stage_collection  # noqa: E402  (same directory)

ROOT = stage_collection.ROOT
OUT = ROOT / ".tmp" / "docs"
BIN = Path(sys.executable).parent
FQCN = "%s.%s" % (stage_collection.NAMESPACE, stage_collection.NAME)
# [text](target) outside code spans; the target up to a space, ')' or '#'.
MARKDOWN_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def run(*cmd, cwd=ROOT, env=None) -> None:
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, check=True)


def tool_env(collections: Path) -> dict:
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    env["PATH"] = "%s%s%s" % (BIN, os.pathsep, env.get("PATH", ""))
    return env


def galaxy_version() -> str:
    for line in (ROOT / "galaxy.yml").read_text().splitlines():
        if line.startswith("version:"):
            return line.split(":", 1)[1].strip().strip("'\"")
    raise SystemExit("galaxy.yml has no version")


def release_notes(dest: Path) -> None:
    """Release the changelog fragments in a scratch copy of the collection; the worktree keeps its fragments."""
    scratch = OUT / "release"
    shutil.rmtree(scratch, ignore_errors=True)
    coll = scratch / "ansible_collections" / stage_collection.NAMESPACE / stage_collection.NAME
    for rel in stage_collection.project_files():
        (coll / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, coll / rel)
    run(BIN / "antsibull-changelog", "release", "--version", galaxy_version(), cwd=coll, env=tool_env(scratch))
    run(BIN / "antsibull-changelog", "lint-changelog-yaml", "changelogs/changelog.yaml", cwd=coll)
    shutil.copy2(coll / "CHANGELOG.rst", dest / "release_notes.rst")


def build() -> Path:
    stage_collection.stage_link()
    src, html = OUT / "src", OUT / "html"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(ROOT / "docs", src, ignore=shutil.ignore_patterns("*.md", "_build", "awx"))
    # antsibull-docs insists on a destination only its owner can write to.
    os.chmod(src, 0o755)
    run(BIN / "antsibull-docs", "collection", "--use-current", "--fail-on-error", "--no-add-antsibull-docs-version",
        "--dest-dir", src, FQCN, env=tool_env(ROOT / ".tmp" / "collections"))
    release_notes(src)
    shutil.rmtree(html, ignore_errors=True)
    run(BIN / "sphinx-build", "-b", "html", "-W", "--keep-going", "-n", "-q", "-j", "2",
        "-D", "release=" + galaxy_version(), "-D", "version=" + galaxy_version(),
        "-d", OUT / "doctrees", src, html)
    print("Documentation: %s" % (html / "index.html"))
    return html


def broken_markdown_links() -> list[str]:
    broken = []
    for rel in stage_collection.project_files():
        if not rel.endswith(".md"):
            continue
        path = ROOT / rel
        text = re.sub(r"```.*?```|`[^`\n]*`", "", path.read_text(), flags=re.S)
        for target in MARKDOWN_LINK.findall(text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto:
            if not (path.parent / target).exists():
                broken.append("%s: %s" % (rel, target))
    return broken


def lint() -> None:
    broken = broken_markdown_links()
    if broken:
        raise SystemExit("Broken relative links in Markdown files:\n  " + "\n  ".join(broken))
    run(BIN / "antsibull-changelog", "lint")
    staged = stage_collection.stage_copy()
    run(BIN / "antsibull-docs", "lint-collection-docs", "--plugin-docs", staged,
        env=tool_env(staged.parents[2]))
    build()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["build", "lint"])
    args = parser.parse_args()
    try:
        build() if args.what == "build" else lint()
    except subprocess.CalledProcessError as exc:
        print("docs: %s failed with exit code %s" % (exc.cmd[0], exc.returncode), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
