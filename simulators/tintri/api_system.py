"""REST handlers: API discovery, sessions, appliance and datastore."""

from __future__ import annotations

import json

from . import dto
from .errors import ApiError, invalid_input, not_found
from .query import page
from .routing import Reply
from .util import datetime_str, now_ms, stable_hash

CRED_TYPE = "com.tintri.api.rest.vcommon.dto.rbac.RestApiCredentials"


def json_string(s: str) -> Reply:
    return Reply(200, json.dumps(s))  # String outputs are JSON string literals


# --- discovery and sessions ----------------------------------------------------------------

def info(ctx):
    app = ctx.app
    return Reply(200, {
        "typeId": dto.T["RestApi"],
        "productName": "Tintri Global Center" if app.is_tgc else "Tintri VMstore",
        "preferredVersion": app.cfg["api"]["preferredVersion"],
        "supportedVersionSet": list(app.cfg["api"]["supportedVersionSet"]),
    })


def login(ctx):
    body = ctx.body()
    if not isinstance(body, dict):
        raise invalid_input("the body must be a RestApiCredentials object")
    if body.get("typeId") not in (None, CRED_TYPE):
        raise invalid_input(f"unexpected typeId {body.get('typeId')!r}; expected {CRED_TYPE!r}")
    username, password = body.get("username"), body.get("password")
    user = next((u for u in ctx.app.cfg["users"]
                 if u["username"] == username and u["password"] == password and username is not None), None)
    if user is None:
        raise ApiError(403, "ERR-API-0124", "Invalid credentials",
                       "Authentication failed for the given user name and password", "Forbidden")
    if body.get("newPassword"):
        user["password"] = str(body["newPassword"])
    version = body.get("fullApiVersion")
    token, _ = ctx.app.sessions.create(user, ctx.client_ip, str(version) if version else None)
    return Reply(200, json.dumps(user["role"]), {"Set-Cookie": f"JSESSIONID={token}; Path=/; Secure; HttpOnly"})


def logout(ctx):
    ctx.app.sessions.drop(ctx.token)
    return Reply(204, empty=True)


def _session_dto(app, s: dict) -> dict:
    last = s["lastAccess"] * 1000
    return {
        "typeId": dto.T["UserSession"], "id": s["id"], "userName": s["userName"], "roles": [s["role"]],
        "authType": "LOCAL", "clientIp": s["clientIp"], "clientId": "", "clientType": "REST_API",
        "loginTime": datetime_str(s["loginTime"] * 1000), "lastAccessedTime": datetime_str(last),
        "expirationTime": datetime_str(last + app.sessions.idle_seconds * 1000),
    }


def session_current(ctx):
    return Reply(200, _session_dto(ctx.app, ctx.session))


def session_active(ctx):
    return Reply(200, [_session_dto(ctx.app, s) for s in ctx.app.sessions.active()])


# --- appliance and datastore ---------------------------------------------------------------

def _appliance_dto(lab, app) -> dict:
    return {
        "typeId": dto.T["Appliance"],
        "uuid": dto.uuid(app.appliance_uuid),
        "info": lab.appliance_info(app),
        "configIps": _ips(app),
        "dnsConfig": _dns(app),
        "maintenanceMode": _maintenance(app),
        "controllers": [
            {"typeId": dto.P + "domain.beans.hardware.ApplianceController", "locator": loc, "state": "OK",
             "role": role, "components": [], "networkBonds": []}
            for loc, role in (("A", "ACTIVE"), ("B", "STANDBY"))
        ] if not app.is_tgc else [],
        "disks": [],
        "components": [],
        "temperatures": [],
        "lastUpdatedTime": datetime_str(now_ms()),
    }


def _ips(app) -> list:
    return [{"typeId": dto.T["ApplianceIp"], "ip": "127.0.0.1", "ipCidr": "127.0.0.1/8", "netmask": "255.0.0.0",
             "gateway": "127.0.0.1", "serviceType": svc, "networkBond": "bond0", "vlanId": "untagged",
             "hostname": app.hostname, "isJumboFrameEnabled": False} for svc in ("admin", "data")]


def _dns(app) -> dict:
    return {"typeId": dto.P + "domain.beans.hardware.ApplianceDns", "dnsPrimary": "127.0.0.53",
            "dnsSecondary": "", "dnsTertiary": ""}


def _maintenance(app) -> dict:
    return {"typeId": dto.P + "domain.beans.hardware.ApplianceMaintenanceMode", "isEnabled": False}


def _appliance_or_404(ctx):
    uid = ctx.params["uuid"]
    if uid not in ("default", ctx.app.appliance_uuid):
        raise ApiError(404, "ERR-API-0102", "Failed to obtain default entity.", f"unknown appliance '{uid}'")
    return ctx.app


def appliance_list(ctx):
    return Reply(200, [_appliance_dto(ctx.lab, ctx.app)])


def appliance_get(ctx):
    return Reply(200, [_appliance_dto(ctx.lab, _appliance_or_404(ctx))])


def appliance_info(ctx):
    return Reply(200, ctx.lab.appliance_info(_appliance_or_404(ctx)))


def appliance_ips(ctx):
    return Reply(200, _ips(_appliance_or_404(ctx)))


def appliance_dns(ctx):
    return Reply(200, _dns(_appliance_or_404(ctx)))


def appliance_maintenance(ctx):
    return Reply(200, _maintenance(_appliance_or_404(ctx)))


def _datastore_dto(lab, app) -> dict:
    managers = sorted({v.get("vcenterName") for v in app.vms.values() if v.get("vcenterName")} |
                      set(app.cfg.get("hypervisorManagers", [])))
    return {
        "typeId": dto.T["Datastore"],
        "uuid": dto.uuid(app.datastore_uuid, "DATA_STORE"),
        "displayName": app.hostname,
        "applianceUuid": dto.uuid(app.appliance_uuid),
        "isDataFromAppliance": True,
        "snapshotHighFrequencyVmsCount": 0,
        "snapshotHighFrequencyVmsMax": 16,
        "stat": lab.datastore_stat(app),
        "storageContainers": [
            {"typeId": dto.T["HypervisorDatastore"], "displayName": app.cfg["storageContainer"], "hostname": m,
             "hypervisorType": "HYPERV" if "vmm" in m.lower() or "hv" in m.lower() else "VMWARE",
             "id": f"{app.cfg['storageContainer']}@{m}", "ipAddress": "127.0.0.1", "isPreferred": True,
             "accessProtocol": "NFS", "mountDirectories": ["/tintri"]}
            for m in managers
        ],
        "lastUpdatedTime": datetime_str(now_ms()),
    }


def _datastore_app(ctx):
    uid = ctx.params["uuid"]
    if ctx.app.is_tgc:
        for m in ctx.lab.members(ctx.app):
            if uid == m.datastore_uuid:
                return m
        raise not_found("Datastore", uid)
    if uid not in ("default", ctx.app.datastore_uuid):
        raise ApiError(501, "ERR-API-2001", "Datastores other than 'default datastore' are not supported.",
                       f"unknown datastore '{uid}'", "Not implemented")
    return ctx.app


def datastore_list(ctx):
    apps = ctx.lab.members(ctx.app) if ctx.app.is_tgc else [ctx.app]
    with ctx.lab.lock:
        for a in apps:
            a.discover()
        return Reply(200, [_datastore_dto(ctx.lab, a) for a in apps])


def datastore_get(ctx):
    app = _datastore_app(ctx)
    with ctx.lab.lock:
        app.discover()
        return Reply(200, _datastore_dto(ctx.lab, app))


def datastore_stats_summary(ctx):
    app = _datastore_app(ctx)
    with ctx.lab.lock:
        return Reply(200, ctx.lab.datastore_stat(app))


def datastore_stats_realtime(ctx):
    app = _datastore_app(ctx)
    with ctx.lab.lock:
        stat = ctx.lab.datastore_stat(app)
        now = now_ms()
        item = {"typeId": dto.T["Stats"], "startTime": datetime_str(now - 600_000), "endTime": datetime_str(now),
                "numberOfSlices": 1, "sortedStats": [stat]}
        return Reply(200, page(ctx.query, [item], lambda x: x))


def host_resources(ctx):
    app = _datastore_app(ctx)
    out = []
    with ctx.lab.lock:
        seen = set()
        for v in app.vms.values():
            mgr, host = v.get("vcenterName"), v.get("host")
            if not mgr or (mgr, host) in seen:
                continue
            seen.add((mgr, host))
            out.append({"typeId": dto.P + "domain.beans.vm.VirtualMachineHostResource",
                        "id": f"host-{stable_hash(mgr, host) % 10000}", "hostname": mgr,
                        "displayName": host or mgr, "type": "HOST", "path": f"/{mgr}/{host}",
                        "datastoreName": app.cfg["storageContainer"], "isPreferred": True,
                        "isStandalone": False, "isOfTemplate": False})
    return Reply(200, out)


