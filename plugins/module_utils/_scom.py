# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SCOM operations over the PSRP runner (``scom.*`` catalogue ops) and the base of the SCOM modules."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vmops.datacenter.plugins.module_utils._psrp import (
    HAS_PYPSRP,
    PSRP_REQUIRED_TOGETHER,
    PYPSRP_IMPORT_ERROR,
    PsrpError,
    psrp_argument_spec,
    runner_from_params,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._scom_ops import DEFAULT_CLASS

GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$")


class ScomError(Exception):
    """A SCOM request failed for one or more objects; ``str()`` is the message shown to the user."""

    def __init__(self, message, target=None, text=None):
        super().__init__(message)
        self.target = target
        self.text = text

    def as_dict(self):
        return dict(target=self.target, message=self.text)


def is_guid(value):
    return bool(GUID.match(value or ""))


def parse_time(value):
    """An ISO 8601 time (as the catalogue returns it, or as a user writes it) as an aware UTC datetime.

    A time without offset is taken as UTC. Raises ValueError on anything else.
    """
    match = _ISO.match(str(value).strip())
    if not match:
        raise ValueError("not an ISO 8601 time: %r" % (value,))
    day, clock, fraction, offset = match.groups()
    if len(clock) == 5:
        clock += ":00"
    text = "%sT%s.%s" % (day, clock, (fraction or "0")[:6].ljust(6, "0"))
    stamp = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f")
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        minutes = sign * (int(digits[:2]) * 60 + int(digits[2:]))
        return stamp.replace(tzinfo=timezone.utc) - timedelta(minutes=minutes)
    return stamp.replace(tzinfo=timezone.utc)


def format_time(value):
    """An aware datetime as the ISO text the catalogue takes (UTC, ``Z``)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now():
    return datetime.now(timezone.utc)


class ScomClient:
    """SCOM maintenance mode operations for one module run; ``runner`` is a PsrpRunner (or a fake)."""

    def __init__(self, runner, class_name=DEFAULT_CLASS):
        self.runner = runner
        self.class_name = class_name

    def _class(self):
        return {} if self.class_name == DEFAULT_CLASS else dict(ClassName=self.class_name)

    def list_objects(self, names=None, ids=None):
        params = self._class()
        if names:
            params["DisplayName"] = list(names)
        if ids:
            params["Id"] = list(ids)
        return self.runner.run("scom.object_list", **params)

    def start_maintenance(self, ids, end_time, reason=None, comment=None):
        params = dict(Id=list(ids), EndTime=format_time(end_time), **self._class())
        if reason:
            params["Reason"] = reason
        if comment is not None:
            params["Comment"] = comment
        return self.runner.run("scom.maintenance_start", **params)

    def update_maintenance(self, ids, end_time, reason=None, comment=None):
        params = dict(Id=list(ids), EndTime=format_time(end_time), **self._class())
        if reason:
            params["Reason"] = reason
        if comment is not None:
            params["Comment"] = comment
        return self.runner.run("scom.maintenance_update", **params)

    def stop_maintenance(self, ids):
        return self.runner.run("scom.maintenance_stop", Id=list(ids), **self._class())


class ScomModule:
    """AnsibleModule plus a SCOM session on the management server; ``run(work)`` is the whole life of a module."""

    def __init__(self, argument_spec, **kwargs):
        spec = psrp_argument_spec()
        spec.update(argument_spec)
        kwargs["required_together"] = list(kwargs.get("required_together") or []) + PSRP_REQUIRED_TOGETHER
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.result = dict(changed=False)
        if not HAS_PYPSRP:
            self.module.fail_json(msg=missing_required_lib("pypsrp"), exception=str(PYPSRP_IMPORT_ERROR))
        for name in ("operation_timeout", "connection_timeout"):
            if self.params.get(name) is not None and self.params[name] <= 0:
                self.module.fail_json(msg="%s must be greater than zero, got %s." % (name, self.params[name]))
        if self.params["retries"] < 0:
            self.module.fail_json(msg="retries must not be negative, got %s." % self.params["retries"])

    def client(self, runner):
        return ScomClient(runner)

    def run(self, work):
        """Open the session (``scom.connect`` once), call ``work(client)``, close it, exit with ``self.result``."""
        runner = runner_from_params(self.params, "scom")
        try:
            with runner:
                work(self.client(runner))
        except PsrpError as exc:
            self.fail(str(exc), psrp_error=exc.as_dict())
        except ScomError as exc:
            self.fail(str(exc), scom_error=exc.as_dict())
        for warning in runner.warnings:
            self.module.warn(warning)
        self.module.exit_json(**self.result)

    def fail(self, msg, **details):
        payload = dict(self.result)
        payload.update(details)
        payload.pop("msg", None)
        self.module.fail_json(msg=msg, **payload)
