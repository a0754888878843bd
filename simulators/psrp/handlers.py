"""One handler per catalogue operation, answering from the VMM and SCOM state models and, for the
ConfigMgr operations, from the ConfigMgr site model the AdminService simulator serves
(``simulators/configmgr/model.py``), so a deployment created here shows in ``SMS_UpdateGroupAssignment``.

A handler is ``handler(params, ctx) -> [json_string]``: it binds ``params`` strictly against
the parameters its script declares (``SPECS``, checked against the scripts' param blocks by
the tests), the way PowerShell's binder would (unknown, ambiguous or missing mandatory names,
type conversion, ValidateSet, null/empty mandatory values all raise a ParameterBindingException
style ``PowerShellError``), then answers with the exact JSON contract of the script
(``plugins/module_utils/_vmm_ops.py``, ``_scom_ops.py`` and ``_configmgr_ops.py``), including the texts the scripts
themselves write. The op names come from those catalogues, so they cannot drift apart.

``ctx`` needs only what it uses: ``session`` (a dict per runspace pool: ``*.connect`` marks it,
the other operations refuse to run without it, as the scripts do), ``username`` (SCOM's
maintenance user) and ``sleep(seconds) -> bool`` (job polling that a stopped pipeline ends).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

try:
    from plugins.module_utils import _configmgr_ops, _scom_ops, _vmm_ops
except ImportError:  # started from outside the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from plugins.module_utils import _configmgr_ops, _scom_ops, _vmm_ops

from ..configmgr.odata import ODataError
from . import scom_model
from .vmm_model import norm_id

try:
    from .dispatch import PowerShellError
except ImportError:  # the models and handlers work without the wire server
    class PowerShellError(Exception):
        def __init__(self, message, error_id="VmopsSimulator.Error", category="NotSpecified",
                     exception_type="System.Management.Automation.RuntimeException", target=None, activity=""):
            super().__init__(message)
            self.message, self.error_id, self.category = message, error_id, category
            self.exception_type, self.target, self.activity = exception_type, target, activity

RUNTIME = "System.Management.Automation.RuntimeException"
BINDING = "System.Management.Automation.ParameterBindingException"
VALIDATION = "System.Management.Automation.ParameterBindingValidationException"
TRANSFORMATION = "System.Management.Automation.ParameterBindingArgumentTransformationException"

STRING, STRINGS, GUIDS, INT, DOUBLE, SWITCH, SECURE = "string", "string[]", "guid[]", "int", "double", "switch", "securestring"
_NET_TYPES = {STRING: "System.String", STRINGS: "System.String[]", GUIDS: "System.Guid[]", INT: "System.Int32",
              DOUBLE: "System.Double", SWITCH: "System.Management.Automation.SwitchParameter",
              SECURE: "System.Security.SecureString"}
# What an unbound parameter of each type holds inside the script.
_UNBOUND = {STRING: "", STRINGS: None, GUIDS: None, INT: 0, DOUBLE: 0.0, SWITCH: False, SECURE: None}
LOCAL_NAMES = {"localhost", ".", "127.0.0.1", "::1"}
VMM_VERSION = "10.22.0.0"


@dataclass(frozen=True)
class P:
    """One declared script parameter: its type, [Parameter(Mandatory)], default, ValidateSet."""

    type: str
    mandatory: bool = False
    default: object = None
    choices: tuple = field(default=())


_REASONS = tuple(_scom_ops.REASONS)
SPECS: dict[str, dict[str, P]] = {
    "vmm.connect": {"Server": P(STRING, default="localhost"), "UserName": P(STRING), "Password": P(SECURE)},
    "vmm.vm_list": {"VMId": P(GUIDS), "Name": P(STRINGS), "HostName": P(STRINGS), "ClusterName": P(STRINGS),
                    "Status": P(STRINGS), "CustomPropertyName": P(STRING), "CustomPropertyValue": P(STRING)},
    "vmm.vm_power": {"VMId": P(GUIDS, True), "Action": P(STRING, True, choices=_vmm_ops.POWER_ACTIONS)},
    "vmm.checkpoint_list": {"VMId": P(GUIDS, True)},
    "vmm.checkpoint_new": {"VMId": P(GUIDS, True), "Name": P(STRING, True), "Description": P(STRING, default="")},
    "vmm.checkpoint_remove": {"CheckpointId": P(GUIDS, True)},
    "vmm.checkpoint_restore": {"CheckpointId": P(GUIDS, True)},
    "vmm.host_list": {"ComputerName": P(STRINGS), "ClusterName": P(STRINGS)},
    "vmm.host_maintenance": {"ComputerName": P(STRINGS, True), "Action": P(STRING, True, choices=_vmm_ops.HOST_ACTIONS),
                             "MoveWithinCluster": P(SWITCH)},
    "vmm.vm_migrate": {"VMId": P(GUIDS, True), "HostName": P(STRING, True)},
    "vmm.compliance_list": {"ComputerName": P(STRINGS, True), "BaselineName": P(STRING, True)},
    "vmm.compliance_scan": {"ComputerName": P(STRINGS, True), "BaselineName": P(STRING, True)},
    "vmm.update_remediate": {"ComputerName": P(STRINGS, True), "BaselineName": P(STRING, True),
                             "SuspendReboot": P(SWITCH)},
    "vmm.job_list": {"JobId": P(GUIDS), "Newest": P(INT, default=0)},
    "vmm.job_wait": {"JobId": P(GUIDS, True), "TimeoutSeconds": P(DOUBLE, default=600.0),
                     "PollSeconds": P(DOUBLE, default=5.0)},
    "scom.connect": {"Server": P(STRING, default="localhost"), "UserName": P(STRING), "Password": P(SECURE)},
    "scom.object_list": {"DisplayName": P(STRINGS), "Id": P(GUIDS),
                         "ClassName": P(STRING, default=_scom_ops.DEFAULT_CLASS)},
    "scom.maintenance_start": {"Id": P(GUIDS, True), "EndTime": P(STRING, True),
                               "Reason": P(STRING, default=_scom_ops.DEFAULT_REASON, choices=_REASONS),
                               "Comment": P(STRING, default=""), "ClassName": P(STRING, default=_scom_ops.DEFAULT_CLASS)},
    "scom.maintenance_update": {"Id": P(GUIDS, True), "EndTime": P(STRING, True), "Reason": P(STRING, choices=_REASONS),
                                "Comment": P(STRING), "ClassName": P(STRING, default=_scom_ops.DEFAULT_CLASS)},
    "scom.maintenance_stop": {"Id": P(GUIDS, True), "ClassName": P(STRING, default=_scom_ops.DEFAULT_CLASS)},
    "configmgr.connect": {"SiteCode": P(STRING), "ProviderMachineName": P(STRING)},
    "configmgr.update_deployment_new": {
        "SoftwareUpdateGroupId": P(STRING, True), "CollectionId": P(STRING, True), "DeploymentName": P(STRING, True),
        "AvailableTime": P(STRING, True), "DeadlineTime": P(STRING, True),
        "UserNotification": P(STRING, default=_configmgr_ops.DEFAULT_USER_NOTIFICATION,
                              choices=_configmgr_ops.USER_NOTIFICATIONS),
        "SuppressRestartServer": P(SWITCH), "AllowRestart": P(SWITCH), "AllowSoftwareInstallation": P(SWITCH)},
    "configmgr.update_deployment_remove": {"DeploymentId": P(STRINGS, True)},
}
# UserNotification -> (NotifyUser, UserUIExperience) of the deployment.
_NOTIFICATIONS = {"DisplayAll": (True, True), "DisplaySoftwareCenterOnly": (False, True), "HideAll": (False, False)}
SUPPRESS_SERVERS = 2  # SMS_UpdateGroupAssignment.SuppressReboot bit for servers
# What the ConfigMgr cmdlets say when a -*Id names nothing.
CM_NOT_FOUND = "No object corresponds to the specified parameters."


# --- parameter binding ---------------------------------------------------------------------------

class Bound(dict):
    """Bound parameters by declared name; `given` holds the names the caller passed
    (the script's $PSBoundParameters)."""

    given: frozenset = frozenset()


def _binding(message, error_id, target=None):
    return PowerShellError(message, error_id, "InvalidArgument", BINDING, target)


def _transformation(name, spec, value, inner):
    return PowerShellError(
        f"Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{value}\" to type "
        f"\"{_NET_TYPES[spec.type]}\". Error: \"{inner}\"", "ParameterArgumentTransformationError", "InvalidData",
        TRANSFORMATION, value)


def _ps_string(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        return " ".join(_ps_string(v) for v in value)  # PowerShell joins an array bound to [string]
    return "" if value is None else str(value)


def _convert(name: str, spec: P, value):
    if value is None:
        return None if spec.type not in (STRING, SWITCH, INT, DOUBLE) else _UNBOUND[spec.type]
    t = spec.type
    if t == STRING:
        return _ps_string(value)
    if t == STRINGS:
        return [_ps_string(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    if t == GUIDS:
        out = []
        for v in value if isinstance(value, (list, tuple)) else [value]:
            gid = norm_id(v) if v is not None else None
            if gid is None:
                raise _transformation(name, spec, _ps_string(value), f"Cannot convert value \"{v}\" to type "
                                      "\"System.Guid\". Error: \"Guid should contain 32 digits with 4 dashes "
                                      "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).\"")
            out.append(gid)
        return out
    if t in (INT, DOUBLE):
        if isinstance(value, (list, tuple)):
            raise _transformation(name, spec, _ps_string(value), "Cannot convert the \"System.Object[]\" value of "
                                  f"type \"System.Object[]\" to type \"{_NET_TYPES[t]}\".")
        try:
            number = float(value) if not isinstance(value, bool) else float(int(value))
        except (TypeError, ValueError):
            raise _transformation(name, spec, value, "Input string was not in a correct format.") from None
        return round(number) if t == INT else number  # [int] rounds half to even, like round()
    if t == SWITCH:
        if isinstance(value, (bool, int)):
            return bool(value)
        raise _transformation(name, spec, value, f"Cannot convert the \"{value}\" value of type "
                              f"\"{type(value).__name__}\" to type \"System.Management.Automation.SwitchParameter\".")
    return value  # securestring: what the wire layer decrypted


def _validate(name: str, spec: P, value) -> None:
    def fail(what, error_id):
        raise PowerShellError(f"Cannot bind argument to parameter '{name}' because it is {what}.", error_id,
                              "InvalidData", VALIDATION, name)
    if spec.mandatory:
        if value is None:
            fail("null", "ParameterArgumentValidationErrorNullNotAllowed")
        if value == "" and spec.type == STRING:
            fail("an empty string", "ParameterArgumentValidationErrorEmptyStringNotAllowed")
        if isinstance(value, list) and not value:
            fail("an empty array", "ParameterArgumentValidationErrorEmptyArrayNotAllowed")
    if spec.choices and value is not None:
        if value.casefold() not in {c.casefold() for c in spec.choices}:
            allowed = ",".join(spec.choices)
            raise PowerShellError(
                f"Cannot validate argument on parameter '{name}'. The argument \"{value}\" does not belong to the set "
                f"\"{allowed}\" specified by the ValidateSet attribute. Supply an argument that is in the set and "
                "then try the command again.", "ParameterArgumentValidationError", "InvalidData", VALIDATION, value)


def bind(spec: dict[str, P], params: dict) -> Bound:
    """`params` bound to `spec` the way PowerShell's binder would, or a PowerShellError."""
    bound = Bound()
    by_lower = {n.lower(): n for n in spec}
    for raw_name, value in (params or {}).items():
        key = str(raw_name).lstrip("-").lower()
        name = by_lower.get(key)
        if name is None:
            hits = [n for n in spec if n.lower().startswith(key)] if key else []
            if len(hits) > 1:
                raise _binding(f"Parameter cannot be processed because the parameter name '{raw_name}' is ambiguous. "
                               f"Possible matches include: {' '.join('-' + h for h in hits)}.", "AmbiguousParameter")
            if not hits:
                raise _binding(f"A parameter cannot be found that matches parameter name '{raw_name}'.",
                               "NamedParameterNotFound", raw_name)
            name = hits[0]
        if name in bound:
            raise _binding(f"Cannot bind parameter because parameter '{name}' is specified more than once. To provide "
                           "multiple values to parameters that can accept multiple values, use the array syntax. For "
                           "example, \"-parameter value1,value2,value3\".", "ParameterAlreadyBound")
        value = _convert(name, spec[name], value)
        _validate(name, spec[name], value)
        bound[name] = value
    missing = [n for n, p in spec.items() if p.mandatory and n not in bound]
    if missing:
        raise _binding("Cannot process command because of one or more missing mandatory parameters: "
                       f"{' '.join(missing)}.", "MissingMandatoryParameter")
    bound.given = frozenset(bound)
    for name, p in spec.items():
        if name not in bound:
            bound[name] = p.default if p.default is not None else _UNBOUND[p.type]
    return bound


# --- the operations --------------------------------------------------------------------------

def _dump(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _thrown(message: str) -> PowerShellError:
    """What `throw '<message>'` in a script reports."""
    return PowerShellError(message, message, "OperationStopped", RUNTIME)


def _session(ctx) -> dict | None:
    session = getattr(ctx, "session", None)
    return session if isinstance(session, dict) else None


class _Operations:
    def __init__(self, vmm, scom, site=None):
        self.vmm = vmm
        self.scom = scom
        self.site = site

    # --- VMM -------------------------------------------------------------------------------
    def _need_vmm(self, ctx) -> None:
        session = _session(ctx)
        if session is not None and not session.get("vmm.server"):
            raise _thrown(_vmm_ops.NOT_CONNECTED)

    @staticmethod
    def _vmm_error(kind: str) -> dict:
        message = {"vm": _vmm_ops.VM_NOT_FOUND, "checkpoint": _vmm_ops.CHECKPOINT_NOT_FOUND,
                   "host": _vmm_ops.HOST_NOT_FOUND, "baseline": _vmm_ops.BASELINE_NOT_FOUND}[kind]
        return {"id": _vmm_ops.ERROR_NOT_FOUND, "message": message}

    def _items(self, items: list[dict], kind: str) -> list[dict]:
        for item in items:
            if item["error"] is not None:
                # The model tells a missing baseline from a missing target; the scripts' texts differ too.
                item["error"] = self._vmm_error("baseline" if item["error"] == "baseline_not_found" else kind)
        return items

    def vmm_connect(self, p, ctx):
        server = self.vmm.server_name()
        remote = {server.lower(), server.split(".")[0].lower()} | {a.lower() for a in self.vmm.state["aliases"]}
        jump_box = self.vmm.state.get("jump_box")
        names = remote if jump_box is not None else LOCAL_NAMES | remote
        if jump_box is not None and p["Server"].lower() in remote:
            self._check_double_hop(jump_box, p)
        if p["Server"].lower() not in names:
            raise PowerShellError(
                f"You cannot contact the VMM management server {p['Server']}. Ensure that the name is correct, that "
                "the Virtual Machine Manager service is running on it, and then try the operation again.",
                "CannotConnectToVMMServer", "ConnectionError", "Microsoft.VirtualManager.Utils.CarmineException",
                p["Server"])
        session = _session(ctx)
        if session is not None:
            session["vmm.server"] = server
        return {"server": server, "version": self.vmm.state.get("product_version", VMM_VERSION)}

    @staticmethod
    def _check_double_hop(jump_box, p):
        """From a jump box, the session's own (NTLM/Basic) credential cannot reach the VMM server; an explicit
        credential can, when it is the right one."""
        wanted = jump_box.get("credentials")
        given = p["UserName"] or None
        if given is None or (wanted and (given.lower() != wanted["username"].lower() or p["Password"] != wanted["password"])):
            raise PowerShellError(
                f"You cannot access the VMM management server {p['Server']}: Access is denied. (Exception from HRESULT: "
                "0x80070005 (E_ACCESSDENIED))", "CannotConnectToVMMServer", "PermissionDenied",
                "System.UnauthorizedAccessException", p["Server"])

    def vmm_vm_list(self, p, ctx):
        self._need_vmm(ctx)
        return self.vmm.list_vms(ids=p["VMId"], names=p["Name"], hosts=p["HostName"], clusters=p["ClusterName"],
                                 statuses=p["Status"], custom_name=p["CustomPropertyName"] or None,
                                 custom_value=p["CustomPropertyValue"] or None)

    def vmm_vm_power(self, p, ctx):
        self._need_vmm(ctx)
        return self._items(self.vmm.vm_action(p["VMId"], p["Action"].lower()), "vm")

    def vmm_checkpoint_list(self, p, ctx):
        self._need_vmm(ctx)
        out = []
        for vid in p["VMId"]:
            checkpoints = self.vmm.list_checkpoints(vid)
            if checkpoints is None:
                out.append({"vm_id": vid, "vm_name": None, "checkpoints": [], "error": self._vmm_error("vm")})
            else:
                vm = self.vmm.get_vm(vid) or {}
                out.append({"vm_id": vid, "vm_name": vm.get("name"), "checkpoints": checkpoints, "error": None})
        return out

    def vmm_checkpoint_new(self, p, ctx):
        self._need_vmm(ctx)
        return self._items(self.vmm.checkpoint_new(p["VMId"], p["Name"], p["Description"]), "vm")

    def vmm_checkpoint_remove(self, p, ctx):
        self._need_vmm(ctx)
        return self._items(self.vmm.checkpoint_remove(p["CheckpointId"]), "checkpoint")

    def vmm_checkpoint_restore(self, p, ctx):
        self._need_vmm(ctx)
        return self._items(self.vmm.checkpoint_restore(p["CheckpointId"]), "checkpoint")

    def vmm_host_list(self, p, ctx):
        self._need_vmm(ctx)
        return self.vmm.list_hosts(names=p["ComputerName"], clusters=p["ClusterName"])

    def vmm_host_maintenance(self, p, ctx):
        self._need_vmm(ctx)
        return self._items(self.vmm.host_maintenance(p["ComputerName"], p["Action"].lower(), p["MoveWithinCluster"]),
                           "host")

    def vmm_vm_migrate(self, p, ctx):
        self._need_vmm(ctx)
        items = self.vmm.vm_migrate(p["VMId"], p["HostName"])
        for item in items:
            error = item["error"]
            if error == "host_not_found":
                item["error"] = self._vmm_error("host")
            elif error == "not_found":
                item["error"] = self._vmm_error("vm")
            elif error is not None:
                # The cmdlet's exception text ends with its error id, which the script reads back.
                item["error"] = {"id": error["id"], "message": f"{error['message']} (Error ID: {error['id']})"}
        return items

    def vmm_compliance_list(self, p, ctx):
        self._need_vmm(ctx)
        return self._items(self.vmm.compliance(p["ComputerName"], p["BaselineName"]), "host")

    def vmm_compliance_scan(self, p, ctx):
        self._need_vmm(ctx)
        return self._items(self.vmm.compliance_scan(p["ComputerName"], p["BaselineName"]), "host")

    def vmm_update_remediate(self, p, ctx):
        self._need_vmm(ctx)
        return self._items(self.vmm.update_remediate(p["ComputerName"], p["BaselineName"], p["SuspendReboot"]),
                           "host")

    @staticmethod
    def _job_or_missing(job_id: str, view: dict | None) -> dict:
        if view is not None:
            return view
        return {"id": job_id, "name": None, "status": _vmm_ops.JOB_NOT_FOUND_STATUS, "is_completed": True,
                "progress": 0, "result_name": None, "start_time": None, "end_time": None,
                "error": {"id": _vmm_ops.ERROR_NOT_FOUND, "message": _vmm_ops.JOB_NOT_FOUND, "recommended_action": None}}

    def vmm_job_list(self, p, ctx):
        self._need_vmm(ctx)
        if p["JobId"]:
            return [self._job_or_missing(i, v) for i, v in zip(p["JobId"], self.vmm.get_jobs(p["JobId"]), strict=True)]
        return self.vmm.list_jobs(newest=p["Newest"] if p["Newest"] > 0 else 0)

    def vmm_job_wait(self, p, ctx):
        self._need_vmm(ctx)
        sleep = getattr(ctx, "sleep", None)
        views = self.vmm.wait_jobs(p["JobId"], p["TimeoutSeconds"], p["PollSeconds"], sleep=sleep)
        return [self._job_or_missing(i, v) for i, v in zip(p["JobId"], views, strict=True)]

    # --- SCOM ------------------------------------------------------------------------------
    def _need_scom(self, ctx) -> None:
        session = _session(ctx)
        if session is not None and not session.get("scom.management_group"):
            raise _thrown(_scom_ops.NOT_CONNECTED)

    _SCOM_ERRORS = {scom_model.NOT_FOUND: _scom_ops.OBJECT_NOT_FOUND, scom_model.ALREADY: _scom_ops.ALREADY_IN_MAINTENANCE,
                    scom_model.NOT_IN: _scom_ops.NOT_IN_MAINTENANCE}

    def _scom_items(self, items: list[dict]) -> list[dict]:
        for item in items:
            if item["error"] is not None:
                item["error"] = {"id": None, "message": self._SCOM_ERRORS[item["error"]]}
        return items

    @staticmethod
    def _end_time(text: str) -> float:
        try:
            return scom_model.parse_time(text)
        except ValueError:
            raise PowerShellError('Exception calling "Parse" with "3" argument(s): "String was not recognized as a '
                                  'valid DateTime."', "FormatException", "NotSpecified",
                                  "System.Management.Automation.MethodInvocationException") from None

    def _maintenance(self, call):
        try:
            return self._scom_items(call())
        except scom_model.EndTimeNotFuture:
            raise _thrown(_scom_ops.END_TIME_NOT_FUTURE) from None

    def scom_connect(self, p, ctx):
        server = self.scom.state["server"]
        names = LOCAL_NAMES | {server.lower(), server.split(".")[0].lower()}
        if p["Server"].lower() not in names:
            raise PowerShellError(
                f"The Data Access service is either not running or not yet initialized on {p['Server']}.",
                "ConnectionFailed", "ConnectionError", "Microsoft.EnterpriseManagement.Common.ServiceNotRunningException",
                p["Server"])
        session = _session(ctx)
        if session is not None:
            session["scom.management_group"] = self.scom.management_group
        return {"server": p["Server"], "management_group": self.scom.management_group}

    def scom_object_list(self, p, ctx):
        self._need_scom(ctx)
        items = self.scom.list_objects(ids=p["Id"], display_names=p["DisplayName"], class_name=p["ClassName"])
        return [dict(item, error=None) for item in items]

    def scom_maintenance_start(self, p, ctx):
        self._need_scom(ctx)
        end = self._end_time(p["EndTime"])
        user = getattr(ctx, "username", None) or scom_model.DEFAULT_USER
        return self._maintenance(lambda: self.scom.start(p["Id"], end, self._reason(p["Reason"]), p["Comment"], user,
                                                         p["ClassName"]))

    def scom_maintenance_update(self, p, ctx):
        self._need_scom(ctx)
        end = self._end_time(p["EndTime"])
        reason = self._reason(p["Reason"]) if "Reason" in p.given else None
        comment = p["Comment"] if "Comment" in p.given else None
        return self._maintenance(lambda: self.scom.update(p["Id"], end, reason, comment, p["ClassName"]))

    def scom_maintenance_stop(self, p, ctx):
        self._need_scom(ctx)
        return self._scom_items(self.scom.stop(p["Id"], p["ClassName"]))

    @staticmethod
    def _reason(value: str) -> str:
        """The enum member's own spelling (ValidateSet accepted any case)."""
        return next(r for r in _REASONS if r.casefold() == value.casefold())

    # --- ConfigMgr (ConfigurationManager module on the site server) ---------------------------
    def _need_configmgr(self, ctx) -> None:
        session = _session(ctx)
        if session is not None and not session.get("configmgr.site"):
            raise _thrown(_configmgr_ops.NOT_CONNECTED)

    def configmgr_connect(self, p, ctx):
        if self.site is None:  # a server without the ConfigMgr console (the VMM server of the lab)
            raise _thrown(_configmgr_ops.CONSOLE_MISSING)
        code = self.site.site_code
        provider = self.site.state["provider"]
        if p["SiteCode"] and p["SiteCode"].upper() != code.upper():
            # No drive of that name: New-PSDrive asks the SMS Provider, whose site has another code.
            raise PowerShellError(
                f"The SMS Provider {p['ProviderMachineName'] or provider} does not serve a site with the site code "
                f"'{p['SiteCode']}'.", "NewDriveProviderException,Microsoft.PowerShell.Commands.NewPSDriveCommand",
                "InvalidArgument", "System.Management.Automation.ProviderInvocationException", p["SiteCode"])
        session = _session(ctx)
        if session is not None:
            session["configmgr.site"] = code
        return {"site_code": code, "provider": provider}

    @staticmethod
    def _cm_not_found(target) -> PowerShellError:
        return PowerShellError(CM_NOT_FOUND, "ItemNotFound,Microsoft.ConfigurationManagement.Cmdlets.Sum.Commands."
                               "NewSoftwareUpdateDeploymentCommand", "ObjectNotFound",
                               "System.Management.Automation.ItemNotFoundException", target)

    def configmgr_update_deployment_new(self, p, ctx):
        self._need_configmgr(ctx)
        start, deadline = self._end_time(p["AvailableTime"]), self._end_time(p["DeadlineTime"])
        notify, ui = next(v for k, v in _NOTIFICATIONS.items() if k.casefold() == p["UserNotification"].casefold())
        for kind, ref in (("group", p["SoftwareUpdateGroupId"]), ("collection", p["CollectionId"])):
            try:
                self.site.update_group(ref) if kind == "group" else self.site.collection(ref)
            except ODataError:
                raise self._cm_not_found(ref) from None
        dep = self.site.create_deployment(
            p["SoftwareUpdateGroupId"], p["CollectionId"], p["DeploymentName"], start, deadline, notify_user=notify,
            ui_experience=ui, suppress_reboot=SUPPRESS_SERVERS if p["SuppressRestartServer"] else 0,
            override_windows=p["AllowSoftwareInstallation"], reboot_outside=p["AllowRestart"])
        return {"assignment_id": dep["AssignmentID"], "assignment_unique_id": dep["AssignmentUniqueID"],
                "name": dep["AssignmentName"]}

    def configmgr_update_deployment_remove(self, p, ctx):
        self._need_configmgr(ctx)
        return [{"deployment_id": unique_id, "removed": self.site.remove_deployment(unique_id)}
                for unique_id in p["DeploymentId"]]



CATALOGUES = {"vmm": _vmm_ops, "scom": _scom_ops, "configmgr": _configmgr_ops}


def make_handlers(vmm_model, scom_model_, site_model=None) -> dict:
    """op name -> handler(params, ctx) for every operation of the catalogues. Each handler has
    `.op` and `.parameters` (its SPECS entry). Without `site_model` (a ConfigMgr SiteModel) the
    server has no ConfigMgr console: configmgr.connect fails as its script does there."""
    catalogue = {op: text for module in CATALOGUES.values() for op, text in module.OPERATIONS.items()}
    if set(catalogue) != set(SPECS):
        raise RuntimeError(f"handlers and catalogues differ: {sorted(set(catalogue) ^ set(SPECS))}")
    ops = _Operations(vmm_model, scom_model_, site_model)
    handlers = {}
    for op in catalogue:
        method = getattr(ops, op.replace(".", "_"))
        spec = SPECS[op]

        def handler(params, ctx, _method=method, _spec=spec):
            return [_dump(_method(bind(_spec, params), ctx))]
        handler.op = op
        handler.parameters = spec
        handler.__name__ = "handle_" + op.replace(".", "_")
        handlers[op] = handler
    return handlers


def register_all(dispatcher, vmm_model, scom_model_, site_model=None) -> list[str]:
    """Register every catalogue operation with `dispatcher`; returns the op names."""
    handlers = make_handlers(vmm_model, scom_model_, site_model)
    for op, handler in handlers.items():
        dispatcher.register(op, handler, versions=[CATALOGUES[op.split(".")[0]].VERSION])
    return sorted(handlers)


class DirectContext:
    """A context for calling handlers without the server (tests, scripts): one session."""

    def __init__(self, username: str = "LAB\\tester"):
        self.session: dict = {}
        self.username = username
        self.errors: list = []
        self.sleep_calls = 0

    def sleep(self, seconds: float) -> bool:
        self.sleep_calls += 1
        time.sleep(seconds)
        return True

    def write_error(self, message, error_id, category="NotSpecified", target=None, **kwargs):
        self.errors.append((message, error_id, category, target))
