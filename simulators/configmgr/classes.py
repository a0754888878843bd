"""The WMI classes and v1.0 entities served, as rows built from the site model.

Each class has its property list (what $filter/$select may name), its array properties, its key
and a row builder. Lazy WMI properties (``SMS_Collection.CollectionRules``,
``SMS_AuthorizationList.Updates``) appear only when one instance is read by key, as with WMI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .model import (
    ENFORCEMENT_MESSAGES,
    PHASE_MESSAGE,
    STATUS_ERROR,
    STATUS_IN_PROGRESS,
    STATUS_SUCCESS,
    STATUS_UNKNOWN,
    SiteModel,
    iso,
)


@dataclass
class WmiClass:
    name: str
    key: str
    properties: list[str]
    rows: Callable[[SiteModel], list[dict]]
    arrays: set[str] = field(default_factory=set)
    lazy: set[str] = field(default_factory=set)
    key_is_string: bool = False


def _systems(m: SiteModel) -> list[dict]:
    out = []
    for d in m.state["devices"].values():
        out.append({"ResourceID": d["ResourceID"], "Name": d["Name"], "NetbiosName": d["Name"],
                    "ResourceDomainORWorkgroup": m.state["domain"].split(".")[0].upper(),
                    "ResourceNames": [d["fqdn"]], "SMSUniqueIdentifier": d["SMSUniqueIdentifier"],
                    "SMSAssignedSites": [m.site_code], "Client": 1, "ClientVersion": d["ClientVersion"],
                    "Active": 1, "Obsolete": 0, "Decommissioned": 0, "ResourceType": 5,
                    "OperatingSystemNameandVersion": "Microsoft Windows NT Server 10.0"})
    return out


def _collections(m: SiteModel) -> list[dict]:
    out = []
    names = {c["CollectionID"]: c["Name"] for c in m.state["collections"].values()}
    for c in m.state["collections"].values():
        out.append({"CollectionID": c["CollectionID"], "Name": c["Name"], "Comment": c["Comment"],
                    "CollectionType": c["CollectionType"], "LimitToCollectionID": c["LimitToCollectionID"],
                    "LimitToCollectionName": names.get(c["LimitToCollectionID"], ""),
                    "MemberCount": len(m.members(c)), "IsBuiltIn": c["IsBuiltIn"], "IsReferenceCollection": False,
                    "CurrentStatus": 5 if c.get("pending_eval_at") is not None else 1, "RefreshType": 2,
                    "LastRefreshTime": iso(c["LastRefreshTime"]), "LastChangeTime": iso(c["LastChangeTime"]),
                    "LastMemberChangeTime": iso(c["LastMemberChangeTime"]),
                    "CollectionRules": [dict(r, **{"@odata.type": "#AdminService.SMS_CollectionRuleDirect"})
                                        for r in c["rules"]]})
    return out


def _memberships(m: SiteModel) -> list[dict]:
    out = []
    for c in m.state["collections"].values():
        direct = {r["ResourceID"] for r in c["rules"]}
        for rid in m.members(c):
            d = m.device(rid)
            out.append({"CollectionID": c["CollectionID"], "ResourceID": rid, "Name": d["Name"],
                        "Domain": m.state["domain"].split(".")[0].upper(), "SiteCode": m.site_code,
                        "IsDirect": rid in direct, "IsClient": True, "IsActive": True, "ResourceType": 5})
    return out


def _combined(m: SiteModel) -> list[dict]:
    out = []
    for d in m.state["devices"].values():
        out.append({"ResourceID": d["ResourceID"], "MachineID": d["ResourceID"], "Name": d["Name"],
                    "Domain": m.state["domain"].split(".")[0].upper(), "SiteCode": m.site_code,
                    "IsClient": True, "ClientActiveStatus": 1, "ClientVersion": d["ClientVersion"],
                    "CNIsOnline": m.online(d), "CNLastOnlineTime": iso(d.get("last_online")),
                    "CNLastOfflineTime": iso(d.get("last_offline")), "IsVirtualMachine": False})
    return out


def _updates(m: SiteModel) -> list[dict]:
    deployed = {ci for d in m.state["deployments"].values() for ci in d["AssignedCIs"]}
    return [{k: v for k, v in u.items() if k != "requires_reboot"} | {"IsDeployed": u["CI_ID"] in deployed}
            for u in m.state["updates"].values()]


def _groups(m: SiteModel) -> list[dict]:
    deployed = {d["AssignedUpdateGroup"] for d in m.state["deployments"].values()}
    return [{"CI_ID": g["CI_ID"], "CI_UniqueID": g["CI_UniqueID"], "LocalizedDisplayName": g["LocalizedDisplayName"],
             "LocalizedDescription": g["LocalizedDescription"], "Updates": list(g["Updates"]),
             "IsDeployed": g["CI_ID"] in deployed, "DateCreated": iso(g["DateCreated"])}
            for g in m.state["update_groups"].values()]


def _deployments(m: SiteModel) -> list[dict]:
    out = []
    for d in m.state["deployments"].values():
        coll = m.state["collections"].get(d["TargetCollectionID"])
        out.append({"AssignmentID": d["AssignmentID"], "AssignmentUniqueID": d["AssignmentUniqueID"],
                    "AssignmentName": d["AssignmentName"], "AssignedUpdateGroup": d["AssignedUpdateGroup"],
                    "AssignedCIs": list(d["AssignedCIs"]), "TargetCollectionID": d["TargetCollectionID"],
                    "CollectionName": coll["Name"] if coll else "", "StartTime": iso(d["StartTime"]),
                    "EnforcementDeadline": iso(d["EnforcementDeadline"]), "Enabled": d["Enabled"],
                    "SuppressReboot": d["SuppressReboot"], "OverrideServiceWindows": d["OverrideServiceWindows"],
                    "RebootOutsideOfServiceWindows": d["RebootOutsideOfServiceWindows"], "UseGMTTimes": True,
                    "AssignmentAction": 2, "DesiredConfigType": 1, "NotifyUser": d.get("NotifyUser", False),
                    "UserUIExperience": d.get("UserUIExperience", False),
                    "SourceSite": m.site_code, "CreationTime": iso(d["CreationTime"])})
    return out


def _compliance_row(m: SiteModel, dev: dict, ci: int) -> dict:
    phase, since, error = m.phase(dev, ci)
    update = m.state["updates"][str(ci)]
    status = {"not_required": 1, "installed": 3}.get(phase, 2)
    msg = PHASE_MESSAGE.get(phase)
    check = since if since is not None else dev.get("last_online")
    return {"MachineID": dev["ResourceID"], "CI_ID": ci, "Status": status, "ArticleID": update["ArticleID"],
            "BulletinID": update["BulletinID"], "LastStatusCheckTime": iso(check),
            "LastStatusChangeTime": iso(since if phase in ("installed", "not_required") else check),
            "LastEnforcementMessageID": msg, "LastEnforcementMessageName": ENFORCEMENT_MESSAGES.get(msg),
            "LastEnforcementMessageTime": iso(since) if msg is not None else None,
            "LastErrorCode": error, "EnforcementSource": 1 if msg is not None else 0}


def _compliance(m: SiteModel) -> list[dict]:
    return [_compliance_row(m, dev, u["CI_ID"]) for dev in m.state["devices"].values()
            for u in m.state["updates"].values()]


def _asset_details(m: SiteModel) -> list[dict]:
    out = []
    for d in m.state["deployments"].values():
        coll = m.state["collections"].get(d["TargetCollectionID"])
        if coll is None:
            continue
        for rid in m.members(coll):
            dev = m.device(rid)
            phases = [m.phase(dev, ci) for ci in d["AssignedCIs"]]
            kinds = {p[0] for p in phases}
            error = next((p[2] for p in phases if p[0] == "failed"), 0)
            if "failed" in kinds:
                status, msg = STATUS_ERROR, 6
            elif kinds <= {"installed", "not_required"}:
                status, msg = STATUS_SUCCESS, 4
            elif kinds & {"downloading", "installing", "pending_reboot"}:
                status = STATUS_IN_PROGRESS
                msg = next(PHASE_MESSAGE[k] for k in ("pending_reboot", "installing", "downloading") if k in kinds)
            else:
                status, msg = STATUS_UNKNOWN, None
            when = max((p[1] for p in phases if p[1] is not None), default=None)
            description = ENFORCEMENT_MESSAGES.get(msg, "") if msg is not None else "Enforcement state unknown"
            out.append({"AssignmentID": d["AssignmentID"], "AssignmentUniqueID": d["AssignmentUniqueID"],
                        "AssignmentName": d["AssignmentName"], "CollectionID": d["TargetCollectionID"],
                        "CollectionName": coll["Name"], "ResourceID": rid, "DeviceName": dev["Name"],
                        "IsCompliant": status == STATUS_SUCCESS, "StatusType": status,
                        "StatusEnforcementState": msg, "StatusErrorCode": error, "StatusDescription": description,
                        "StatusTime": iso(when), "LastEnforcementMessageID": msg,
                        "LastEnforcementMessageDesc": description if msg is not None else None,
                        "LastEnforcementMessageTime": iso(when), "LastEnforcementErrorCode": error,
                        "LastComplianceMessageID": None, "LastComplianceMessageDesc": None,
                        "LastComplianceMessageTime": iso(when), "IsVM": False, "VMHostName": None})
    return out


def _operations(m: SiteModel) -> list[dict]:
    names = {c["CollectionID"]: c["Name"] for c in m.state["collections"].values()}
    return [{"ID": o["ID"], "PrimaryActionType": o["Type"], "CollectionID": o["TargetCollectionID"],
             "TargetCollectionName": names.get(o["TargetCollectionID"], ""), "TargetResourceIDs": list(o["TargetResourceIDs"]),
             "RequestedTime": iso(o["Time"]), "State": 1, "SourceSite": m.site_code}
            for o in m.state["operations"]]


def _devices_v1(m: SiteModel) -> list[dict]:
    return [{"MachineId": d["ResourceID"], "Name": d["Name"], "Domain": m.state["domain"].split(".")[0].upper(),
             "SiteCode": m.site_code, "IsClient": True, "IsActive": True, "ClientVersion": d["ClientVersion"]}
            for d in m.state["devices"].values()]


def _props(*names: str) -> list[str]:
    return list(names)


DEPLOYMENT_PROPERTIES = _props(
    "AssignmentID", "AssignmentUniqueID", "AssignmentName", "AssignedUpdateGroup", "AssignedCIs", "TargetCollectionID",
    "CollectionName", "StartTime", "EnforcementDeadline", "Enabled", "SuppressReboot", "OverrideServiceWindows",
    "RebootOutsideOfServiceWindows", "UseGMTTimes", "AssignmentAction", "DesiredConfigType", "NotifyUser",
    "UserUIExperience", "SourceSite", "CreationTime")

WMI_CLASSES = {c.name.lower(): c for c in [
    WmiClass("SMS_R_System", "ResourceID", _props(
        "ResourceID", "Name", "NetbiosName", "ResourceDomainORWorkgroup", "ResourceNames", "SMSUniqueIdentifier",
        "SMSAssignedSites", "Client", "ClientVersion", "Active", "Obsolete", "Decommissioned", "ResourceType",
        "OperatingSystemNameandVersion"), _systems, arrays={"ResourceNames", "SMSAssignedSites"}),
    WmiClass("SMS_Collection", "CollectionID", _props(
        "CollectionID", "Name", "Comment", "CollectionType", "LimitToCollectionID", "LimitToCollectionName",
        "MemberCount", "IsBuiltIn", "IsReferenceCollection", "CurrentStatus", "RefreshType", "LastRefreshTime",
        "LastChangeTime", "LastMemberChangeTime", "CollectionRules"), _collections,
        arrays={"CollectionRules"}, lazy={"CollectionRules"}, key_is_string=True),
    WmiClass("SMS_FullCollectionMembership", "ResourceID", _props(
        "CollectionID", "ResourceID", "Name", "Domain", "SiteCode", "IsDirect", "IsClient", "IsActive",
        "ResourceType"), _memberships),
    WmiClass("SMS_CombinedDeviceResources", "ResourceID", _props(
        "ResourceID", "MachineID", "Name", "Domain", "SiteCode", "IsClient", "ClientActiveStatus", "ClientVersion",
        "CNIsOnline", "CNLastOnlineTime", "CNLastOfflineTime", "IsVirtualMachine"), _combined),
    WmiClass("SMS_ClientOperation", "ID", _props(
        "ID", "PrimaryActionType", "CollectionID", "TargetCollectionName", "TargetResourceIDs", "RequestedTime", "State",
        "SourceSite"), _operations, arrays={"TargetResourceIDs"}),
    WmiClass("SMS_SoftwareUpdate", "CI_ID", _props(
        "CI_ID", "CI_UniqueID", "ArticleID", "BulletinID", "LocalizedDisplayName", "Severity", "IsDeployed",
        "IsExpired", "IsSuperseded"), _updates),
    WmiClass("SMS_AuthorizationList", "CI_ID", _props(
        "CI_ID", "CI_UniqueID", "LocalizedDisplayName", "LocalizedDescription", "Updates", "IsDeployed",
        "DateCreated"), _groups, arrays={"Updates"}, lazy={"Updates"}),
    WmiClass("SMS_UpdatesAssignment", "AssignmentID", DEPLOYMENT_PROPERTIES, _deployments, arrays={"AssignedCIs"}),
    WmiClass("SMS_UpdateGroupAssignment", "AssignmentID", DEPLOYMENT_PROPERTIES, _deployments,
             arrays={"AssignedCIs"}),
    WmiClass("SMS_UpdateComplianceStatus", "MachineID", _props(
        "MachineID", "CI_ID", "Status", "ArticleID", "BulletinID", "LastStatusCheckTime", "LastStatusChangeTime",
        "LastEnforcementMessageID", "LastEnforcementMessageName", "LastEnforcementMessageTime", "LastErrorCode",
        "EnforcementSource"), _compliance),
    WmiClass("SMS_SUMDeploymentAssetDetails", "AssignmentID", _props(
        "AssignmentID", "AssignmentUniqueID", "AssignmentName", "CollectionID", "CollectionName", "ResourceID",
        "DeviceName", "IsCompliant", "StatusType", "StatusEnforcementState", "StatusErrorCode", "StatusDescription",
        "StatusTime", "LastEnforcementMessageID", "LastEnforcementMessageDesc", "LastEnforcementMessageTime",
        "LastEnforcementErrorCode", "LastComplianceMessageID", "LastComplianceMessageDesc",
        "LastComplianceMessageTime", "IsVM", "VMHostName"), _asset_details),
]}

V1_ENTITIES = {"device": WmiClass("Device", "MachineId", _props(
    "MachineId", "Name", "Domain", "SiteCode", "IsClient", "IsActive", "ClientVersion"), _devices_v1)}
