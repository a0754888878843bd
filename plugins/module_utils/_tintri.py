# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""REST client for Tintri VMstore and Tintri Global Center (API v310).

One client per module run: discover the product and API version (``/api/info``), log in once,
make the calls, log out always. Requests that are safe to repeat are retried with capped,
jittered backoff on connection failures, 502/503/504 and the API's "busy" codes; an expired
session (401 ``ERR-API-0104``) is renewed once and the request repeated. Errors name the
server, method, path, HTTP status, the Tintri error code, message and cause, and never the
password or session id.

Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

import http.cookiejar
import json
import time
from urllib.parse import parse_qsl

from ansible_collections.vmops.datacenter.plugins.module_utils._common import (
    Deadline,
    backoff_delays,
    never_sent,
    pause,
    redact,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._progress import Progress

try:
    import requests
    import requests.exceptions
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

COLLECTION_VERSION = "0.1.0"
API_MAJOR = "v310"
PRODUCT_VMSTORE = "Tintri VMstore"
PRODUCT_TGC = "Tintri Global Center"

TYPE_PAGE = "com.tintri.api.rest.v310.dto.Page"
TYPE_CREDENTIALS = "com.tintri.api.rest.vcommon.dto.rbac.RestApiCredentials"

SESSION_EXPIRED = "ERR-API-0104"
# "Snapshot inventory is busy ... try again later" (documented), and the busy code seen in the field.
BUSY_CODES = frozenset(["ERR-API-9013", "RESOURCE_BUSY"])
RETRY_STATUSES = frozenset([502, 503, 504])
# Repeating these cannot create a second object; POST can, so POSTs are retried only when the
# request provably never reached the server (or the server refused the session first).
IDEMPOTENT_METHODS = frozenset(["GET", "HEAD", "PUT", "DELETE"])
TASK_TERMINAL_STATES = frozenset(["SUCCESS", "FAILED", "CANCELLED"])


class TintriError(Exception):
    """A failure talking to a Tintri server; ``str()`` is the message shown to the user."""

    def __init__(self, message, server=None, method=None, path=None, status=None, code=None,
                 api_message=None, cause_details=None):
        super().__init__(message)
        self.server = server
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.api_message = api_message
        self.cause_details = cause_details

    def as_dict(self):
        """Structured details for ``fail_json(tintri_error=...)``."""
        return dict(server=self.server, method=self.method, path=self.path, status=self.status,
                    code=self.code, message=self.api_message, cause_details=self.cause_details)


class TintriApiError(TintriError):
    """The server answered with an error status."""


class TintriConnectionError(TintriError):
    """No usable answer: refused, reset, timed out, TLS failure."""


class TintriTaskError(TintriError):
    """An asynchronous task ended FAILED or CANCELLED."""

    def __init__(self, message, task, **kwargs):
        super().__init__(message, **kwargs)
        self.task = task


class TintriTimeoutError(TintriError):
    """A wait ran out of time; the operation may still be running on the server."""

    def __init__(self, message, task=None, **kwargs):
        super().__init__(message, **kwargs)
        self.task = task


class TintriUnsupportedError(TintriError):
    """The operation cannot be done on this kind of server (e.g. VMstore-only on TGC)."""


def _refuse_all_cookies():
    """A cookie jar that stores nothing: the session cookie is handled explicitly, per server."""
    jar = requests.cookies.RequestsCookieJar()
    jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return jar


def uuid_of(obj):
    """The plain id string of an API object (``obj["uuid"]["uuid"]``), or None."""
    if not isinstance(obj, dict):
        return None
    value = obj.get("uuid")
    if isinstance(value, dict):
        return value.get("uuid")
    return value


class TintriClient:
    """Session-scoped access to one VMstore or TGC."""

    def __init__(self, hostname, username, password, validate_certs=True, ca_path=None, timeout=60,
                 retries=5, sleep=None, rng=None):
        self.hostname = hostname.strip().rstrip("/")
        for prefix in ("https://", "http://"):
            if self.hostname.lower().startswith(prefix):
                self.hostname = self.hostname[len(prefix):]
        self.base_url = "https://%s/api" % self.hostname
        self.username = username
        self._password = password
        self.timeout = timeout
        self.retries = retries
        self._sleep = sleep or time.sleep
        self._rng = rng
        self._session_id = None
        self.product = None
        self.api_version = None
        self.http = requests.Session()
        # Passed with every request: requests lets REQUESTS_CA_BUNDLE override a Session-level verify.
        self.verify = (ca_path or True) if validate_certs else False
        self.http.cookies = _refuse_all_cookies()
        self.http.headers.update({
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "vmops.datacenter/%s" % COLLECTION_VERSION,
            "Tintri-Api-Client": "vmops.datacenter-%s" % COLLECTION_VERSION,
        })

    # -- naming -----------------------------------------------------------------------------

    @property
    def is_tgc(self):
        return self.product == PRODUCT_TGC

    @property
    def server_label(self):
        return "%s %s" % (self.product or "Tintri server", self.hostname)

    def _secrets(self):
        return [self._password, self._session_id]

    # -- session ----------------------------------------------------------------------------

    def connect(self):
        """Discover product and API version, then log in with that version."""
        info = self.request("GET", "/info", auth=False)
        self.product = info.get("productName")
        self.api_version = info.get("preferredVersion") or ""
        if not self.api_version.startswith(API_MAJOR):
            raise TintriUnsupportedError(
                "%s offers REST API %r; this collection speaks %s." % (self.server_label, self.api_version, API_MAJOR),
                server=self.hostname, method="GET", path="/api/info")
        self.login()
        return self

    def login(self):
        body = {"typeId": TYPE_CREDENTIALS, "username": self.username, "password": self._password}
        if self.api_version:
            body["fullApiVersion"] = self.api_version
        response = self._send("POST", "/v310/session/login", body=body, auth=False, retry_any_method=True)
        session_id = response.cookies.get("JSESSIONID")
        if not session_id:
            raise TintriApiError(
                "%s accepted the login but set no JSESSIONID cookie." % self.server_label,
                server=self.hostname, method="POST", path="/api/v310/session/login", status=response.status_code)
        self._session_id = session_id

    def logout(self):
        """End the session; never raises (it runs in finally blocks)."""
        if not self._session_id:
            return
        try:
            self.http.post(self.base_url + "/v310/session/logout", timeout=self.timeout, verify=self.verify,
                           headers={"Cookie": "JSESSIONID=%s" % self._session_id})
        except requests.exceptions.RequestException:
            pass
        finally:
            self._session_id = None

    def close(self):
        self.logout()
        self.http.close()

    def __enter__(self):
        try:
            return self.connect()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info):
        self.close()

    # -- requests ---------------------------------------------------------------------------

    def request(self, method, path, params=None, body=None, auth=True, expected=(200, 204)):
        """Send one API call and return its decoded JSON body (None when empty)."""
        response = self._send(method, path, params=params, body=body, auth=auth, expected=expected)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise TintriApiError(
                "%s: %s %s answered HTTP %s with a body that is not JSON." % (
                    self.server_label, method, self._api_path(path), response.status_code),
                server=self.hostname, method=method, path=self._api_path(path), status=response.status_code) from None

    def get(self, path, params=None):
        return self.request("GET", path, params=params)

    def post(self, path, body=None, params=None):
        return self.request("POST", path, params=params, body=body)

    def put(self, path, body=None, params=None):
        return self.request("PUT", path, params=params, body=body)

    def delete(self, path, params=None):
        return self.request("DELETE", path, params=params)

    def create(self, path, body, probe):
        """POST something that can be found afterwards (e.g. a named snapshot).

        POSTs are not repeated blindly: after an ambiguous failure (connection dropped after
        sending, 502/503/504, busy) ``probe()`` looks for the object first and its result is
        returned when the first attempt did succeed; only otherwise is the POST sent again.
        """
        delays = backoff_delays(self.retries, rng=self._rng)
        while True:
            try:
                return self.post(path, body)
            except TintriApiError as exc:
                if exc.status not in RETRY_STATUSES and exc.code not in BUSY_CODES:
                    raise
                failure = exc
            except TintriConnectionError as exc:
                failure = exc
            found = probe()
            if found is not None:
                return found
            if not self._pause(delays):
                raise failure

    def _api_path(self, path):
        return "/api" + path

    def _send(self, method, path, params=None, body=None, auth=True, expected=(200, 204), retry_any_method=False):
        delays = backoff_delays(self.retries, rng=self._rng)
        renewed_session = False
        idempotent = retry_any_method or method in IDEMPOTENT_METHODS
        data = json.dumps(body) if body is not None else None
        while True:
            headers = {}
            if auth:
                if not self._session_id:
                    self.login()
                headers["Cookie"] = "JSESSIONID=%s" % self._session_id
            try:
                response = self.http.request(method, self.base_url + path, params=params, data=data,
                                             headers=headers, timeout=self.timeout, verify=self.verify)
            except requests.exceptions.SSLError as exc:
                raise self._connection_error(method, path, exc, hint=(
                    "TLS verification failed: give the CA that signed this server's certificate in ca_path "
                    "(a PEM file or directory), or fix the server certificate.")) from exc
            except requests.exceptions.RequestException as exc:
                if (idempotent or never_sent(exc)) and self._pause(delays):
                    continue
                hint = None if idempotent or never_sent(exc) else (
                    "The request may have reached the server, so it was not repeated automatically.")
                raise self._connection_error(method, path, exc, hint=hint) from exc
            error = self._error_body(response)
            code = error.get("code")
            if response.status_code == 401 and code == SESSION_EXPIRED and auth and not renewed_session:
                # The server refused before doing anything, so repeating is safe for any method.
                renewed_session = True
                self._session_id = None
                continue
            if (response.status_code in RETRY_STATUSES or code in BUSY_CODES) and idempotent and self._pause(delays):
                continue
            if response.status_code not in expected:
                raise self._api_error(method, path, response, error)
            return response

    def _pause(self, delays):
        return pause(delays, self._sleep)

    @staticmethod
    def _error_body(response):
        if response.status_code < 400 or not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def _api_error(self, method, path, response, error):
        code = error.get("code")
        message = error.get("message") or response.reason or ""
        cause = error.get("causeDetails") or ""
        text = "%s: %s %s failed with HTTP %s" % (self.server_label, method, self._api_path(path), response.status_code)
        if code:
            text += " %s" % code
        if message:
            text += ": %s" % message.rstrip(".") + "."
        if cause:
            text += " Cause: %s" % cause
        if response.status_code == 501 and self.is_tgc:
            text += " This is a VMstore-only call; point hostname at the VMstore that owns the VM."
        elif response.status_code == 501 and self.product == PRODUCT_VMSTORE:
            text += " This call needs a Tintri Global Center; point hostname at the TGC."
        elif response.status_code == 403 and path.endswith("/session/login"):
            text += " Check username and password (or the appliance licence)."
        return TintriApiError(
            redact(text, self._secrets()), server=self.hostname, method=method, path=self._api_path(path),
            status=response.status_code, code=code, api_message=redact(message, self._secrets()),
            cause_details=redact(cause, self._secrets()))

    def _connection_error(self, method, path, exc, hint=None):
        text = "Cannot complete %s %s on %s: %s" % (method, self._api_path(path), self.server_label, exc)
        if hint:
            text = "%s. %s" % (text.rstrip("."), hint)
        return TintriConnectionError(redact(text, self._secrets()), server=self.hostname, method=method,
                                     path=self._api_path(path))

    # -- collections and tasks --------------------------------------------------------------

    def iter_items(self, path, params=None):
        """Yield every item of a listing, following the Page ``next`` links (or a plain list)."""
        params = dict(params or {})
        seen = set()
        while True:
            page = self.get(path, params=params)
            if isinstance(page, list):
                yield from page
                return
            if not isinstance(page, dict) or page.get("typeId") != TYPE_PAGE:
                raise TintriApiError("%s: GET %s returned neither a Page nor a list." % (
                    self.server_label, self._api_path(path)), server=self.hostname, method="GET",
                    path=self._api_path(path))
            yield from page.get("items") or []
            link = page.get("next")
            if not link or link in seen:
                return
            seen.add(link)
            # The next link should carry our filters; keep them anyway in case a server drops them.
            following = {}
            for key, value in parse_qsl(link.lstrip("?"), keep_blank_values=True):
                following.setdefault(key, []).append(value)
            params = dict((k, v) for k, v in params.items() if k not in following)
            params.update((k, v[0] if len(v) == 1 else v) for k, v in following.items())

    def list_all(self, path, params=None):
        return list(self.iter_items(path, params))

    def wait_for_task(self, task, wait_timeout, poll_interval, what="task"):
        """Poll a Task until it ends; return it on SUCCESS, raise on FAILED/CANCELLED/timeout."""
        task_id = uuid_of(task)
        deadline, progress = Deadline(wait_timeout), Progress()
        while not task.get("jobDone") and task.get("state") not in TASK_TERMINAL_STATES:
            progress.update("%s: %s %s at %s %%, %s" % (
                self.server_label, what, task.get("state"), task.get("progressPercent", 0), progress.elapsed()))
            if deadline.expired():
                raise TintriTimeoutError(
                    "%s: %s (task %s) still %s at %s%% after %ss (wait_timeout). It continues on the server; "
                    "run again later or raise wait_timeout." % (
                        self.server_label, what, task_id, task.get("state"), task.get("progressPercent", 0),
                        int(deadline.elapsed)),
                    task=task, server=self.hostname, method="GET", path="/api/v310/task/%s" % task_id)
            self._sleep(max(0.0, min(poll_interval, deadline.remaining)))
            task = self.get("/v310/task/%s" % task_id)
        if task.get("state") != "SUCCESS":
            error = task.get("error") or {}
            text = "%s: %s (task %s) ended %s" % (self.server_label, what, task_id, task.get("state"))
            if error.get("code") or error.get("message"):
                text += ": %s %s" % (error.get("code") or "", (error.get("message") or "").rstrip("."))
                text = text.rstrip() + "."
            if error.get("causeDetails"):
                text += " Cause: %s" % error["causeDetails"]
            raise TintriTaskError(redact(text, self._secrets()), task, server=self.hostname,
                                  path="/api/v310/task/%s" % task_id, code=error.get("code"),
                                  api_message=error.get("message"), cause_details=error.get("causeDetails"))
        return task
