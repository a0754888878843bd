"""Lab orchestrator: start, stop and inspect the simulated lab.

    python -m simulators.lab start  --lab-dir DIR [--description FILE] [--task-seconds N]
    python -m simulators.lab run    --lab-dir DIR [...]     (foreground; what ``start`` spawns)
    python -m simulators.lab stop   --lab-dir DIR
    python -m simulators.lab status --lab-dir DIR

The lab writes DIR/lab.json ({"ca_path": ..., "tintri": {...endpoints...}, "s3": {...endpoint...},
"psrp": {...endpoint...}}) and DIR/lab_vars.yml
(the same for ansible-playbook -e @DIR/lab_vars.yml). The lab CA lives in DIR/pki/. Each
simulator is one entry of SIMULATORS; more plug in the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from .pki import ensure_lab_ca

READY_TIMEOUT = 120


def _start_tintri(lab_dir: Path, pki, args, _running):
    from .tintri import TintriLab

    lab = TintriLab(lab_dir / "tintri", args.description, pki, task_seconds=args.task_seconds,
                    session_idle_seconds=args.session_idle_seconds)
    lab.start()
    return lab


def _start_s3(lab_dir: Path, pki, args, _running):
    from .s3 import lab_server

    return lab_server(lab_dir / "s3", pki)  # rclone serve s3: data in DIR/s3/data, keys and port kept


def _start_psrp(lab_dir: Path, pki, args, running):
    from .psrp.lab import lab_server

    # VMM and SCOM over WS-Man/PSRP; every VMM job takes --task-seconds. The ConfigurationManager module's
    # operations act on the ConfigMgr simulator's site, as they would on the SMS Provider.
    site = running["configmgr"].model if "configmgr" in running else None
    return lab_server(lab_dir / "psrp", pki, job_seconds=float(args.task_seconds), site_model=site)


def _start_configmgr(lab_dir: Path, pki, args, _running):
    from .configmgr import ConfigMgrServer

    return ConfigMgrServer(lab_dir / "configmgr", pki).start()  # state and port kept in DIR/configmgr


# name -> factory(lab_dir, pki, args, running simulators so far) returning an object with .endpoints and .stop()
SIMULATORS = {"tintri": _start_tintri, "s3": _start_s3, "configmgr": _start_configmgr, "psrp": _start_psrp}


def _paths(lab_dir: Path) -> dict:
    return {"pid": lab_dir / "lab.pid", "json": lab_dir / "lab.json", "vars": lab_dir / "lab_vars.yml",
            "out": lab_dir / "lab.out"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not alive
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _read_pid(lab_dir: Path) -> int | None:
    try:
        return int(_paths(lab_dir)["pid"].read_text().strip())
    except (OSError, ValueError):
        return None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def run(args) -> int:
    lab_dir = Path(args.lab_dir).resolve()
    lab_dir.mkdir(parents=True, exist_ok=True)
    paths = _paths(lab_dir)
    pki = ensure_lab_ca(lab_dir / "pki")
    running = {}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        for name, factory in SIMULATORS.items():
            running[name] = factory(lab_dir, pki, args, running)
        info = {"ca_path": pki.ca_path, "lab_dir": str(lab_dir), "pid": os.getpid()}
        info.update({name: sim.endpoints for name, sim in running.items()})
        lab_vars = {"lab_dir": str(lab_dir), "lab_ca_path": pki.ca_path}
        lab_vars.update({f"lab_{name}": sim.endpoints for name, sim in running.items()})
        _write_atomic(paths["pid"], str(os.getpid()))
        _write_atomic(paths["vars"], "# Written by simulators.lab; pass with -e @lab_vars.yml\n"
                      + yaml.safe_dump(lab_vars, sort_keys=False))
        _write_atomic(paths["json"], json.dumps(info, indent=2) + "\n")  # last: marks the lab ready
        while not stop.wait(0.5):
            pass
    finally:
        for sim in running.values():
            try:
                sim.stop()
            except Exception as exc:  # keep stopping the others
                print(f"stopping a simulator failed: {exc}", file=sys.stderr)
        for key in ("json", "pid"):
            if _read_pid(lab_dir) in (None, os.getpid()):
                paths[key].unlink(missing_ok=True)
    return 0


def start(args) -> int:
    lab_dir = Path(args.lab_dir).resolve()
    lab_dir.mkdir(parents=True, exist_ok=True)
    paths = _paths(lab_dir)
    pid = _read_pid(lab_dir)
    if pid and _alive(pid) and paths["json"].exists():
        print(f"lab already running (pid {pid}): {paths['json']}")
        return 0
    paths["json"].unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "simulators.lab", "run", "--lab-dir", str(lab_dir),
           "--task-seconds", str(args.task_seconds), "--session-idle-seconds", str(args.session_idle_seconds)]
    if args.description:
        cmd += ["--description", str(Path(args.description).resolve())]
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    with open(paths["out"], "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=root, env=env,
                                start_new_session=True)
    _write_atomic(paths["pid"], str(proc.pid))
    deadline = time.time() + READY_TIMEOUT
    while time.time() < deadline:
        if proc.poll() is not None:
            print(f"lab failed to start (exit {proc.returncode}); see {paths['out']}", file=sys.stderr)
            paths["pid"].unlink(missing_ok=True)
            return 1
        if paths["json"].exists():
            print(paths["json"].read_text(), end="")
            return 0
        time.sleep(0.1)
    print(f"lab did not become ready within {READY_TIMEOUT}s; see {paths['out']}", file=sys.stderr)
    return 1


def stop(args) -> int:
    lab_dir = Path(args.lab_dir).resolve()
    paths = _paths(lab_dir)
    pid = _read_pid(lab_dir)
    if not pid or not _alive(pid):
        print("lab is not running")
        for key in ("pid", "json"):
            paths[key].unlink(missing_ok=True)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 15
    while time.time() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    for key in ("pid", "json"):
        paths[key].unlink(missing_ok=True)
    print(f"lab stopped (pid {pid})")
    return 0


def status(args) -> int:
    lab_dir = Path(args.lab_dir).resolve()
    paths = _paths(lab_dir)
    pid = _read_pid(lab_dir)
    if pid and _alive(pid) and paths["json"].exists():
        print(paths["json"].read_text(), end="")
        return 0
    print("lab is not running", file=sys.stderr)
    return 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.lab", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "run", "stop", "status"):
        p = sub.add_parser(name)
        p.add_argument("--lab-dir", required=True)
        if name in ("start", "run"):
            p.add_argument("--description", help="lab description (YAML/JSON); default simulators/labs/default.yml")
            p.add_argument("--task-seconds", type=float, default=2.0, help="duration of a simulated task")
            p.add_argument("--session-idle-seconds", type=float, default=1800)
    args = parser.parse_args(argv)
    return {"start": start, "run": run, "stop": stop, "status": status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
