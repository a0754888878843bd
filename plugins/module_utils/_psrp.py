# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PowerShell remoting (WS-Man + PSRP) runner for the VMM, SCOM and ConfigMgr operation catalogues.

One runspace pool per module run, opened on first use and always closed. The product's
``connect`` operation runs once when the pool opens; the VMM one keeps its connection in a
per-runspace global, so the pool has exactly one runspace. ``run(op, **params)`` sends the
catalogue script with ``add_script`` and the arguments with ``add_parameters`` (never pasted
into the text), keeps output and error streams apart, and parses the one JSON string the
script writes. Failures become ``PsrpError`` naming the server, the operation and
PowerShell's error id, category and message, with every secret redacted.

Only read operations (names ending in ``_list``, ``_info`` or ``connect``) are repeated after
a transient fault; a write that failed in flight may have run, so it is never repeated blindly.

Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

import json
import re
import time

from ansible.module_utils.basic import env_fallback

from ansible_collections.vmops.datacenter.plugins.module_utils import _configmgr_ops, _scom_ops, _vmm_ops
from ansible_collections.vmops.datacenter.plugins.module_utils._common import backoff_delays, redact

try:
    import requests.exceptions
    from pypsrp.exceptions import AuthenticationError, WinRMError, WinRMTransportError, WSManFaultError
    from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool
    from pypsrp.serializer import TaggedValue
    from pypsrp.wsman import WSMan
    HAS_PYPSRP = True
    PYPSRP_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    HAS_PYPSRP = False
    PYPSRP_IMPORT_ERROR = exc

CATALOGUE = dict(_vmm_ops.OPERATIONS)
CATALOGUE.update(_scom_ops.OPERATIONS)
CATALOGUE.update(_configmgr_ops.OPERATIONS)

AUTH_CHOICES = ["negotiate", "kerberos", "ntlm", "credssp", "certificate", "basic"]
ENCRYPTION_CHOICES = ["auto", "always", "never"]
DEFAULT_CONFIGURATION = "Microsoft.PowerShell"
READ_SUFFIXES = ("_list", "_info", "connect")
TRANSIENT_HTTP = frozenset([502, 503, 504])
TRANSIENT_VMM_ERROR = re.compile(r"Error ID: %d\b" % _vmm_ops.ERROR_TRANSIENT)

# System.Management.Automation.ErrorCategory, by value.
ERROR_CATEGORIES = (
    "NotSpecified", "OpenError", "CloseError", "DeviceError", "DeadlockDetected", "InvalidArgument",
    "InvalidData", "InvalidOperation", "InvalidResult", "InvalidType", "MetadataError", "NotImplemented",
    "NotInstalled", "ObjectNotFound", "OperationStopped", "OperationTimeout", "SyntaxError", "ParserError",
    "PermissionDenied", "ResourceBusy", "ResourceExists", "ResourceUnavailable", "ReadError", "WriteError",
    "FromStdErr", "SecurityError", "ProtocolError", "ConnectionError", "AuthenticationError", "LimitsExceeded",
    "QuotaExceeded", "NotEnabled",
)


def _env(name, prefix="VMOPS_PSRP_"):
    return (env_fallback, [prefix + name.upper()])


def psrp_argument_spec(env_prefix="VMOPS_PSRP_"):
    """Connection options; documented by the vmops.datacenter.psrp doc fragment."""
    spec = dict(
        server=dict(type="str", required=True),
        port=dict(type="int"),
        ssl=dict(type="bool", default=True),
        auth=dict(type="str", default="negotiate", choices=AUTH_CHOICES),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        certificate_pem=dict(type="path"),
        certificate_key_pem=dict(type="path"),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        encryption=dict(type="str", default="auto", choices=ENCRYPTION_CHOICES),
        configuration_name=dict(type="str", default=DEFAULT_CONFIGURATION),
        operation_timeout=dict(type="int", default=20),
        connection_timeout=dict(type="int", default=30),
        retries=dict(type="int", default=3),
        vmm_server=dict(type="str"),
        vmm_username=dict(type="str"),
        vmm_password=dict(type="str", no_log=True),
    )
    for name, option in spec.items():
        option["fallback"] = _env(name, env_prefix)
    return spec


PSRP_REQUIRED_TOGETHER = [("vmm_username", "vmm_password"), ("certificate_pem", "certificate_key_pem")]


class PsrpError(Exception):
    """A failure running a catalogue operation; ``str()`` is the message shown to the user."""

    def __init__(self, message, server=None, operation=None, error_id=None, category=None, ps_message=None,
                 transient=False):
        super().__init__(message)
        self.server = server
        self.operation = operation
        self.error_id = error_id
        self.category = category
        self.ps_message = ps_message
        self.transient = transient

    def as_dict(self):
        """Structured details for ``fail_json(psrp_error=...)``."""
        return dict(server=self.server, operation=self.operation, error_id=self.error_id,
                    category=self.category, message=self.ps_message)


def is_read_operation(op):
    return op.endswith(READ_SUFFIXES)


def _category_name(value):
    if isinstance(value, int) and 0 <= value < len(ERROR_CATEGORIES):
        return ERROR_CATEGORIES[value]
    return None if value is None else str(value)


def _record_message(record):
    exception = getattr(record, "exception", None)
    props = getattr(exception, "adapted_properties", None) or {}
    message = props.get("Message") if isinstance(props, dict) else None
    return str(message if message else record)


class PsrpRunner:
    """Runs catalogue operations on one server over one runspace pool."""

    def __init__(self, server, port=None, ssl=True, auth="negotiate", username=None, password=None,
                 certificate_pem=None, certificate_key_pem=None, validate_certs=True, ca_path=None,
                 encryption="auto", configuration_name=DEFAULT_CONFIGURATION, operation_timeout=20,
                 connection_timeout=30, retries=3, connect_op=None, connect_params=None, secrets=(),
                 sleep=None, rng=None):
        self.server = server
        self.connect_op = connect_op
        self.connect_params = dict(connect_params or {})
        self.retries = retries
        self._secrets = [password] + list(secrets)
        self._sleep = sleep or time.sleep
        self._rng = rng
        self._pool = None
        self.connected = None
        self.warnings = []
        self.pipelines = 0
        cert_validation = (ca_path or True) if validate_certs else False
        self._wsman_args = dict(server=server, port=port, ssl=ssl, auth=auth, username=username, password=password,
                                cert_validation=cert_validation, encryption=encryption,
                                operation_timeout=operation_timeout, connection_timeout=connection_timeout,
                                read_timeout=operation_timeout + 10)
        if auth == "certificate":
            self._wsman_args.update(certificate_pem=certificate_pem, certificate_key_pem=certificate_key_pem)
        self.configuration_name = configuration_name

    # -- naming -----------------------------------------------------------------------------

    def _redact(self, text):
        return redact(text, self._secrets)

    def _error(self, op, text, **kwargs):
        message = self._redact("%s: %s: %s" % (self.server, op, text))
        for key in ("ps_message",):
            if kwargs.get(key):
                kwargs[key] = self._redact(kwargs[key])
        return PsrpError(message, server=self.server, operation=op, **kwargs)

    # -- pool -------------------------------------------------------------------------------

    def open(self):
        """Open the pool and run the connect operation once; a no-op when already open."""
        if self._pool is not None:
            return
        pool = RunspacePool(WSMan(**self._wsman_args), configuration_name=self.configuration_name,
                            max_runspaces=1)
        self._pool = pool
        try:
            pool.open()
            if any(isinstance(v, TaggedValue) and v.tag == "SS" for v in self.connect_params.values()):
                pool.exchange_keys()
            if self.connect_op:
                try:
                    self.connected = self._invoke(self.connect_op, self.connect_params)
                except PsrpError as exc:
                    self._add_double_hop_hint(exc)
                    raise
        except Exception:
            # A pool whose connect step failed is of no use: the next run starts over.
            self.close()
            raise

    def _add_double_hop_hint(self, exc):
        """Access denied from a jump box to a remote VMM/SCOM server without an explicit credential is the double
        hop: say so, with the ways out."""
        target = self.connect_params.get("Server") or "localhost"
        if (exc.category != "PermissionDenied" or "UserName" in self.connect_params
                or target.lower() in ("localhost", ".", "127.0.0.1", "::1")):
            return
        exc.args = ("%s The session on %s cannot pass its credential on to %s (the double hop): set vmm_username "
                    "and vmm_password, or use auth=credssp or Kerberos delegation." % (exc, self.server, target),)

    def close(self):
        """Close the pool; never raises (it runs in finally blocks)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            self._close_quietly(pool)

    @staticmethod
    def _close_quietly(pool):
        try:
            pool.close()
        except Exception:  # pylint: disable=broad-except
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- operations ---------------------------------------------------------------------------

    def run(self, op, **params):
        """Run catalogue operation ``op`` with PSRP parameters; return its parsed JSON answer."""
        if op not in CATALOGUE:
            raise PsrpError("%s: unknown operation %r." % (self.server, op), server=self.server, operation=op)
        retry = is_read_operation(op)
        delays = backoff_delays(self.retries if retry else 0, rng=self._rng)
        while True:
            try:
                self.open()
                return self._invoke(op, params)
            except PsrpError as exc:
                error = exc
            except Exception as exc:  # pylint: disable=broad-except
                error = self._transport_error(op, exc, retry)
            if not error.transient:
                raise error
            if error.error_id is None:
                # The pool may be broken after a lost connection: start over with a fresh one.
                self.close()
            delay = next(delays, None)
            if delay is None:
                raise error
            self._sleep(delay)

    def _invoke(self, op, params):
        ps = PowerShell(self._pool)
        ps.add_script(CATALOGUE[op])
        if params:
            ps.add_parameters(params)
        self.pipelines += 1
        try:
            output = ps.invoke()
        except Exception as exc:  # pylint: disable=broad-except
            raise self._transport_error(op, exc, is_read_operation(op)) from None
        errors = list(ps.streams.error)
        failed = ps.state == PSInvocationState.FAILED or ps.had_errors
        if errors and (failed or not output):
            raise self._ps_error(op, errors[0], len(errors))
        if failed:
            raise self._error(op, "the pipeline failed without an error record.")
        for record in errors:
            self.warnings.append(self._redact("%s: %s" % (op, _record_message(record))))
        return self._parse(op, output)

    def _parse(self, op, output):
        texts = [o for o in output or [] if o not in (None, "")]
        if len(texts) != 1 or not isinstance(texts[0], str):
            raise self._error(op, "expected one JSON string from the script, got %d output object(s)." % len(texts))
        try:
            return json.loads(texts[0])
        except ValueError:
            raise self._error(op, "the script's answer is not JSON.") from None

    def _ps_error(self, op, record, count):
        message = _record_message(record)
        category = _category_name(getattr(record, "category", None))
        error_id = getattr(record, "fq_error", None)
        transient = is_read_operation(op) and bool(TRANSIENT_VMM_ERROR.search(message))
        more = " (and %d more error(s))" % (count - 1) if count > 1 else ""
        text = "PowerShell error %s (%s): %s%s" % (error_id, category, message, more)
        return self._error(op, text, error_id=error_id, category=category, ps_message=message, transient=transient)

    def _transport_error(self, op, exc, retry):
        if isinstance(exc, AuthenticationError):
            return self._error(op, "authentication failed (auth=%s, user %s): %s" % (
                self._wsman_args["auth"], self._wsman_args["username"], exc), category="AuthenticationError")
        transient = False
        if isinstance(exc, WinRMTransportError):
            transient = exc.code in TRANSIENT_HTTP
        elif isinstance(exc, requests.exceptions.SSLError):
            transient = False
        elif isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            transient = True
        elif isinstance(exc, WSManFaultError):
            transient = False
        elif not isinstance(exc, WinRMError):
            raise exc
        text = "%s: %s" % (type(exc).__name__, exc)
        if transient and not retry:
            text += " (a write operation: it may have run and is not repeated)"
        return self._error(op, text, category="ConnectionError", transient=transient and retry)


def connect_params(product, vmm_server=None, vmm_username=None, vmm_password=None):
    """Arguments of ``<product>.connect``: localhost by default, a jump-box target and credential if given."""
    params = dict(Server=vmm_server or "localhost")
    if vmm_username:
        params["UserName"] = vmm_username
        params["Password"] = TaggedValue("SS", vmm_password or "")
    return params


def runner_from_params(params, product, connect=None):
    """A PsrpRunner for ``product`` (vmm, scom or configmgr) from a module's connection options.

    ``connect`` replaces the arguments of ``<product>.connect`` (by default the jump-box options)."""
    if connect is None:
        connect = connect_params(product, params.get("vmm_server"), params.get("vmm_username"),
                                 params.get("vmm_password"))
    return PsrpRunner(
        params["server"], port=params["port"], ssl=params["ssl"], auth=params["auth"],
        username=params["username"], password=params["password"], certificate_pem=params["certificate_pem"],
        certificate_key_pem=params["certificate_key_pem"], validate_certs=params["validate_certs"],
        ca_path=params["ca_path"], encryption=params["encryption"], configuration_name=params["configuration_name"],
        operation_timeout=params["operation_timeout"], connection_timeout=params["connection_timeout"],
        retries=params["retries"], connect_op=product + ".connect", connect_params=connect,
        secrets=[params.get("vmm_password")])
