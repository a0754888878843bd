"""TintriLab: the appliances of one lab description, each behind its own HTTPS port."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from ..pki import ensure_lab_ca
from .admin import Admin
from .dto import T
from .faults import FaultBook, RequestLog
from .model import Appliance
from .seed import appliance_configs, load_description, seed_tgc, seed_vmstore
from .server import ApplianceServer, make_ssl_context
from .tasks import Engine
from .util import datetime_str, now_ms

GIB = float(1 << 30)


class TintriLab:
    def __init__(self, state_dir, description=None, pki=None, task_seconds: float = 1.0,
                 session_idle_seconds: float = 1800):
        self.state_dir = Path(state_dir).resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.description = load_description(description)
        self.pki = pki or ensure_lab_ca(self.state_dir / "pki")
        self.task_seconds = float(task_seconds)
        self.session_idle_seconds = float(session_idle_seconds)
        self.lock = threading.RLock()
        self.log = self._make_log()
        configs = appliance_configs(self.description)
        defaults = self.description.get("defaults") or {}
        for name, cfg in configs.items():
            spec = (self.description.get("vmstores") or {}).get(name) or {}
            cfg["hypervisorManagers"] = [str(m) for m in spec.get("hypervisor_managers") or []]
        self._defaults = defaults
        self.appliances: dict[str, Appliance] = {
            name: Appliance(self, name, cfg, self.state_dir) for name, cfg in configs.items()
        }
        self.faults = {name: FaultBook() for name in self.appliances}
        self.requests = {name: RequestLog() for name in self.appliances}
        self.engine = Engine(self)
        self._servers: dict[str, ApplianceServer] = {}
        self._threads: list[threading.Thread] = []
        self.started = False

    def _make_log(self) -> logging.Logger:
        (self.state_dir / "logs").mkdir(exist_ok=True)
        log = logging.getLogger(f"simulators.tintri.lab.{id(self)}")
        log.propagate = False
        log.setLevel(logging.DEBUG)
        handler = logging.FileHandler(self.state_dir / "logs" / "tintri.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        self._log_handler = handler
        return log

    # --- lifecycle ---------------------------------------------------------------------------
    def _load_or_seed(self) -> None:
        order = sorted(self.appliances.values(), key=lambda a: a.is_tgc)  # VMstores before TGCs
        for app in order:
            if app.load():
                self.log.info("%s: state restored from %s", app.name, app.state_path)
                continue
            group = "tgcs" if app.is_tgc else "vmstores"
            spec = (self.description.get(group) or {}).get(app.name) or {}
            if app.is_tgc:
                seed_tgc(app, spec, self)
            else:
                seed_vmstore(app, spec, self._defaults)
            app.changed()
            self.log.info("%s: seeded from the lab description", app.name)
        for app in self.appliances.values():
            for rule in app.cfg["faults"]:
                self.faults[app.name].add(rule)

    def _ports_file(self) -> Path:
        return self.state_dir / "ports.json"

    def start(self) -> "TintriLab":
        if self.started:
            return self
        with self.lock:
            self._load_or_seed()
        try:
            previous = json.loads(self._ports_file().read_text())
        except (OSError, ValueError):
            previous = {}
        ssl_ctx = make_ssl_context(self.pki)
        for name, app in self.appliances.items():
            server = None
            wanted = previous.get(name)
            for port in ([wanted] if wanted else []) + [0]:
                try:
                    server = ApplianceServer(("127.0.0.1", port), self, app, ssl_ctx)
                    break
                except OSError:
                    continue
            if server is None:
                raise OSError(f"{name}: could not bind a port")
            app.port = server.server_address[1]
            app.hostname = f"localhost:{app.port}"
            self._servers[name] = server
            t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                 name=f"tintri-sim-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        self._ports_file().write_text(json.dumps({n: a.port for n, a in self.appliances.items()}))
        self.engine.start()
        self.started = True
        self.log.info("lab started: %s", json.dumps({n: a.hostname for n, a in self.appliances.items()}))
        return self

    def stop(self) -> None:
        if not self.started:
            return
        self.engine.stop()
        stoppers = [threading.Thread(target=server.shutdown) for server in self._servers.values()]
        for t in stoppers:  # in parallel: each waits for its serve_forever loop to notice
            t.start()
        for t in stoppers:
            t.join(timeout=5)
        for server in self._servers.values():
            server.close_connections()
            server.server_close()
        for t in self._threads:
            t.join(timeout=5)
        with self.lock:
            for app in self.appliances.values():
                app.save()
        self._servers.clear()
        self._threads.clear()
        self.started = False
        self.log.info("lab stopped")
        self.log.removeHandler(self._log_handler)
        self._log_handler.close()

    def __enter__(self) -> "TintriLab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- public views ------------------------------------------------------------------------
    @property
    def endpoints(self) -> dict:
        out = {}
        for name, app in self.appliances.items():
            admin_user = app.cfg["users"][0]
            e = {
                "hostname": app.hostname,
                "url": f"https://{app.hostname}",
                "port": app.port,
                "personality": app.personality,
                "username": admin_user["username"],
                "password": admin_user["password"],
            }
            ro = next((u for u in app.cfg["users"] if u["role"] in ("READ_ONLY", "Read Only")), None)
            if ro:
                e["readonly_username"] = ro["username"]
                e["readonly_password"] = ro["password"]
            if app.is_tgc:
                e["members"] = list(app.cfg["members"])
            else:
                e["datastore_dir"] = str(app.datastore_dir)
                e["uuid"] = app.vmstore_uuid
            out[name] = e
        return out

    def admin(self, name: str) -> Admin:
        return Admin(self, self.appliances[name])

    # --- helpers used by handlers ------------------------------------------------------------
    def members(self, tgc) -> list[Appliance]:
        return [self.appliances[m] for m in tgc.cfg["members"] if m in self.appliances]

    def take_task_fault(self, app, ttype: str):
        return self.faults[app.name].take_task(ttype)

    def appliance_info(self, app) -> dict:
        info = app.cfg["info"]
        return {
            "typeId": T["ApplianceInfo"],
            "serialNumber": info["serialNumber"],
            "modelName": info["modelName"],
            "osVersion": info["osVersion"],
            "isAllFlash": info["isAllFlash"],
            "currentCapacityGiB": info["currentCapacityGiB"],
            "isExpandable": False,
            "expansionSupported": False,
            "outOfBoxCompleted": True,
            "isFipsEncryptionEnabled": False,
            "isAdminPasswordSyncRequired": False,
            "tceVersion": "",
        }

    def datastore_stat(self, app) -> dict:
        live = [v for v in app.vms.values() if v["live"]]
        used = 0.0
        prov = 0.0
        iops = 0.0
        lat_w = 0.0
        flash = []
        from .dto import vm_stat

        now = now_ms()
        for v in live:
            s = vm_stat(v, 0, now)
            used += s["spaceUsedGiB"]
            prov += s["spaceProvisionedGiB"]
            iops += s["operationsTotalIops"]
            lat_w += s["latencyTotalMs"] * s["operationsTotalIops"]
            flash.append(s["flashHitPercent"])
        snap = sum(d["size"] for s in app.snapshots.values() if not s.get("deleted") for d in s["disks"]) / GIB
        total = app.cfg["capacityGiB"]
        return {
            "typeId": T["DatastoreStat"],
            "timeStart": datetime_str(now - 600_000),
            "timeEnd": datetime_str(now),
            "spaceTotalGiB": total,
            "spaceUsedGiB": round(used + snap, 6),
            "spaceUsedLiveGiB": round(used, 6),
            "spaceUsedLivePhysicalGiB": round(used / 2, 6),
            "spaceUsedSnapshotsTintriGiB": round(snap, 6),
            "spaceUsedOtherGiB": 0.0,
            "spaceProvisionedGiB": round(prov, 6),
            "spaceRemainingPhysicalGiB": round(total - (used + snap) / 2, 6),
            "spaceProvisionedPercent": round(100 * prov / total, 3) if total else 0,
            "vmsCount": len(live),
            "operationsTotalIops": iops,
            "operationsReadIops": round(iops * 0.6),
            "operationsWriteIops": iops - round(iops * 0.6),
            "throughputTotalMBps": round(iops * 16 / 1024.0, 2),
            "throughputReadMBps": round(iops * 16 / 1024.0 * 0.6, 2),
            "throughputWriteMBps": round(iops * 16 / 1024.0 * 0.4, 2),
            "latencyTotalMs": round(lat_w / iops, 3) if iops else 0.0,
            "latencyNetworkMs": 0.1, "latencyStorageMs": round(lat_w / iops / 2, 3) if iops else 0.0,
            "latencyDiskMs": 0.05, "latencyHostMs": 0.2,
            "flashHitPercent": round(sum(flash) / len(flash), 2) if flash else 100.0,
            "performanceReserveAutoAllocated": round(iops / 100.0, 2),
            "performanceReserveUsed": round(iops / 100.0, 2),
            "performanceReserveRemaining": max(0.0, 100 - round(iops / 100.0, 2)),
        }
