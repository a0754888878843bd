# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client for the ConfigMgr AdminService (OData v4 over HTTPS on the SMS Provider).

One client per module run for both routes, ``/AdminService/wmi/`` (WMI classes, their instance
and static methods) and ``/AdminService/v1.0/``. Windows authentication (Negotiate, NTLM) runs
through pyspnego on the connection that answered 401; Basic is sent only when asked for.
Listings follow ``@odata.nextLink`` (same server only). Requests that are safe to repeat are
retried with capped, jittered backoff on connection failures and HTTP 429/502/503/504. Errors
name the server, method, path, HTTP status, OData error code and message, and never the password.

Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

import base64
import json
import re
import time
from urllib.parse import urlsplit

from ansible_collections.vmops.datacenter.plugins.module_utils._common import (
    Deadline,
    backoff_delays,
    never_sent,
    pause,
    redact,
)

try:
    import requests
    import requests.auth
    import requests.exceptions
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc
    requests = None

try:
    import spnego
    import spnego.channel_bindings
    import spnego.exceptions
    HAS_SPNEGO = True
    SPNEGO_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    HAS_SPNEGO = False
    SPNEGO_IMPORT_ERROR = exc

COLLECTION_VERSION = "0.1.0"
AUTH_METHODS = ("negotiate", "ntlm", "basic")
RETRY_STATUSES = frozenset([429, 502, 503, 504])
# Repeating these cannot change the outcome; POSTs are repeated only when the caller says so.
SAFE_METHODS = frozenset(["GET", "HEAD", "PUT", "DELETE"])
ALL_SYSTEMS = "SMS00001"
DIRECT_RULE_TYPE = "#AdminService.SMS_CollectionRuleDirect"
# InitiateClientOperation types (the enum the ConfigMgr console uses).
CLIENT_ACTIONS = {
    "machine_policy": 8,
    "user_policy": 9,
    "discovery_data": 10,
    "software_inventory": 11,
    "hardware_inventory": 12,
    "application_evaluation": 13,
    "software_update_evaluation": 14,
    "switch_software_update_point": 15,
    "restart": 17,
    "wake_up": 150,
}
# A CollectionID: the site code (or SMS for built-in collections) and five hexadecimal digits.
COLLECTION_ID = re.compile(r"^[A-Za-z0-9]{3}[0-9A-Fa-f]{5}$")
# Device names per $filter request: keeps URLs well below IIS's default limits.
FILTER_CHUNK = 25


class ConfigMgrError(Exception):
    """A failure talking to the AdminService; ``str()`` is the message shown to the user."""

    def __init__(self, message, server=None, method=None, path=None, status=None, code=None, api_message=None):
        super().__init__(message)
        self.server = server
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.api_message = api_message

    def as_dict(self):
        """Structured details for ``fail_json(configmgr_error=...)``."""
        return dict(server=self.server, method=self.method, path=self.path, status=self.status,
                    code=self.code, message=self.api_message)


class ConfigMgrApiError(ConfigMgrError):
    """The server answered with an error status."""


class ConfigMgrConnectionError(ConfigMgrError):
    """No usable answer: refused, reset, timed out, TLS failure."""


class ConfigMgrTimeoutError(ConfigMgrError):
    """A wait ran out of time; what was asked may still happen on the site."""


def odata_string(value):
    """An OData string literal: single quotes, inner quotes doubled."""
    return "'%s'" % str(value).replace("'", "''")


def any_of(prop, values, literal=odata_string):
    """``(prop eq a or prop eq b ...)`` for a non-empty list of values."""
    return "(%s)" % " or ".join("%s eq %s" % (prop, literal(v)) for v in values)


def _integer(value):
    return "%d" % int(value)


def _offered(response):
    """Authentication schemes of a 401, lower case, in the server's order, with any token."""
    offers = []
    for part in (response.headers.get("WWW-Authenticate") or "").split(","):
        words = part.strip().split(" ", 1)
        if words[0]:
            offers.append((words[0].lower(), words[1].strip() if len(words) > 1 else ""))
    return offers


def _tls_channel_bindings(response):
    """RFC 5929 tls-server-end-point bindings of the connection, for servers with Extended Protection."""
    try:
        sock = response.raw.connection.sock
        der = sock.getpeercert(True)
    except AttributeError:
        return None
    if not der:
        return None
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_der_x509_certificate(der)
    algorithm = cert.signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(der)
    return spnego.channel_bindings.GssChannelBindings(
        application_data=b"tls-server-end-point:" + digest.finalize())


def _drain(response):
    """Read the body and release the connection, so the same connection carries the next leg."""
    size = len(response.content or b"")
    response.close()
    return size


class NegotiateAuth(requests.auth.AuthBase if HAS_REQUESTS else object):
    """Negotiate (SPNEGO: Kerberos when available, else NTLM) or NTLM for ``requests``.

    The first request goes without credentials; on a 401 that offers the scheme, the handshake runs
    on the same keep-alive connection (NTLM authenticates a connection, not a request) and the
    original request is sent again with the last token. The password stays in this object.
    """

    def __init__(self, username, password, protocol="negotiate", service="HTTP"):
        self.username = username
        self._password = password
        self.protocol = protocol
        self.service = service

    def __call__(self, request):
        request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response, **kwargs):
        if response.status_code != 401:
            return response
        schemes = [offer[0] for offer in _offered(response)]
        wanted = ["negotiate", "ntlm"] if self.protocol == "negotiate" else ["ntlm", "negotiate"]
        scheme = next((s for s in wanted if s in schemes), None)
        if scheme is None:
            return response
        label = "Negotiate" if scheme == "negotiate" else "NTLM"
        context = spnego.client(self.username, self._password, hostname=urlsplit(response.url).hostname,
                                service=self.service, protocol="negotiate" if self.protocol == "negotiate" else "ntlm",
                                channel_bindings=_tls_channel_bindings(response))
        token = context.step()
        history = [response]
        for _leg in range(3):
            _drain(response)
            retry = response.request.copy()
            retry.headers["Authorization"] = "%s %s" % (label, base64.b64encode(token).decode("ascii"))
            answer = response.connection.send(retry, **kwargs)
            answer.history = history[:]
            answer.request = retry
            server_token = next((t for s, t in _offered(answer) if s == scheme and t), None)
            if answer.status_code != 401:
                if server_token and not context.complete:
                    context.step(base64.b64decode(server_token))
                return answer
            if not server_token or context.complete:
                return answer  # refused: the caller reports the 401
            token = context.step(base64.b64decode(server_token))
            history.append(answer)
            response = answer
        return response


class ConfigMgrClient:
    """Access to one site's AdminService (SMS Provider)."""

    def __init__(self, server, username, password, auth="negotiate", port=None, validate_certs=True, ca_path=None,
                 timeout=60, retries=5, sleep=None, rng=None):
        host = server.strip().rstrip("/")
        for prefix in ("https://", "http://"):
            if host.lower().startswith(prefix):
                host = host[len(prefix):]
        host = host.split("/")[0]
        if port and ":" not in host:
            host = "%s:%s" % (host, port)
        self.server = host
        self.base_url = "https://%s/AdminService" % host
        self.username = username
        self._password = password
        self.timeout = timeout
        self.retries = retries
        self._sleep = sleep or time.sleep
        self._rng = rng
        self.http = requests.Session()
        # Passed with every request: requests lets REQUESTS_CA_BUNDLE override a Session-level verify.
        self.verify = (ca_path or True) if validate_certs else False
        if auth == "basic":
            self.http.auth = requests.auth.HTTPBasicAuth(username, password)
        else:
            self.http.auth = NegotiateAuth(username, password, protocol=auth)
        self.auth = auth
        self.http.headers.update({
            "Accept": "application/json",
            "User-Agent": "vmops.datacenter/%s" % COLLECTION_VERSION,
        })

    @property
    def label(self):
        return "ConfigMgr AdminService %s" % self.server

    def _secrets(self):
        return [self._password]

    def close(self):
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- requests ---------------------------------------------------------------------------

    def request(self, method, path, params=None, body=None, safe=None, expected=(200, 201, 204)):
        """Send one call (``path`` below /AdminService, or an absolute next link); return its JSON or None."""
        url = path if path.startswith("https://") else self.base_url + path
        shown = urlsplit(url).path
        safe = method in SAFE_METHODS if safe is None else safe
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        delays = backoff_delays(self.retries, rng=self._rng)
        while True:
            try:
                response = self.http.request(method, url, params=params, data=data, headers=headers,
                                             timeout=self.timeout, verify=self.verify)
            except requests.exceptions.SSLError as exc:
                raise self._connection_error(method, shown, exc, hint=(
                    "TLS verification failed: give the CA that signed the SMS Provider's certificate in ca_path "
                    "(a PEM file or directory), or fix the server certificate.")) from exc
            except spnego.exceptions.SpnegoError as exc:
                raise self._connection_error(method, shown, exc, hint=(
                    "Windows authentication could not be completed; check username (DOMAIN\\user) and password.")) from exc
            except requests.exceptions.RequestException as exc:
                if (safe or never_sent(exc)) and self._pause(delays):
                    continue
                hint = None if safe or never_sent(exc) else (
                    "The request may have reached the server, so it was not repeated automatically.")
                raise self._connection_error(method, shown, exc, hint=hint) from exc
            if response.status_code in RETRY_STATUSES and safe and self._pause(delays):
                continue
            if response.status_code not in expected:
                raise self._api_error(method, shown, response)
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise ConfigMgrApiError(
                    "%s: %s %s answered HTTP %s with a body that is not JSON." % (
                        self.label, method, shown, response.status_code),
                    server=self.server, method=method, path=shown, status=response.status_code) from None

    def _pause(self, delays):
        return pause(delays, self._sleep)

    def _api_error(self, method, path, response):
        code = message = None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            error = body.get("error") if isinstance(body.get("error"), dict) else {}
            code = error.get("code") or None
            message = error.get("message") or body.get("Message") or None
            inner = error.get("innererror") if isinstance(error.get("innererror"), dict) else {}
            if inner.get("message") and inner.get("message") != message:
                message = "%s (%s)" % (message or "", inner["message"])
        text = "%s: %s %s failed with HTTP %s" % (self.label, method, path, response.status_code)
        if code:
            text += " %s" % code
        text += ": %s" % (message or response.reason or "no error message").rstrip(".") + "."
        if response.status_code == 401:
            offered = ", ".join(offer[0] for offer in _offered(response)) or "nothing"
            text += (" The server did not accept the credentials (it offers: %s). Check username (DOMAIN\\user), "
                     "password and auth (%s was used)." % (offered, self.auth))
        elif response.status_code == 403:
            text += " The account needs a ConfigMgr administrative role that allows this."
        return ConfigMgrApiError(
            redact(text, self._secrets()), server=self.server, method=method, path=path,
            status=response.status_code, code=code, api_message=redact(message, self._secrets()))

    def _connection_error(self, method, path, exc, hint=None):
        text = "Cannot complete %s %s on %s: %s" % (method, path, self.label, exc)
        if hint:
            text = "%s. %s" % (text.rstrip("."), hint)
        return ConfigMgrConnectionError(redact(text, self._secrets()), server=self.server, method=method, path=path)

    # -- OData ------------------------------------------------------------------------------

    def iter_values(self, path, params=None):
        """Yield every row of a listing, following ``@odata.nextLink`` on the same server."""
        body = self.request("GET", path, params=params)
        seen = set()
        while True:
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise ConfigMgrApiError("%s: GET %s returned no OData value array." % (self.label, path),
                                        server=self.server, method="GET", path=path)
            yield from body["value"]
            link = body.get("@odata.nextLink")
            if not link or link in seen:
                return
            seen.add(link)
            target = urlsplit(link)
            if target.netloc and target.netloc.lower() != self.server.lower():
                raise ConfigMgrApiError(
                    "%s: the next page of %s is on another server (%s); not following it with these credentials." % (
                        self.label, path, target.netloc), server=self.server, method="GET", path=path)
            if not target.netloc:
                link = "https://%s%s" % (self.server, link if link.startswith("/") else "/" + link)
            body = self.request("GET", link)

    def query(self, path, filter=None, select=None, top=None, orderby=None):
        """Every row of ``path`` matching an OData $filter, as a list."""
        params = {}
        if filter:
            params["$filter"] = filter
        if select:
            params["$select"] = ",".join(select)
        if top is not None:
            params["$top"] = str(top)
        if orderby:
            params["$orderby"] = orderby
        return list(self.iter_values(path, params or None))

    def instance(self, path):
        """One instance by key (``/wmi/SMS_X(<key>)`` answers a value array, ``/v1.0/X(<key>)`` the entity);
        None when the server answers 404."""
        try:
            body = self.request("GET", path)
        except ConfigMgrApiError as exc:
            if exc.status == 404:
                return None
            raise
        if isinstance(body, dict) and isinstance(body.get("value"), list):
            return body["value"][0] if body["value"] else None
        return body

    # -- devices ----------------------------------------------------------------------------

    def find_devices(self, names):
        """{requested name: [SMS_R_System rows]} matched on the NetBIOS name, ignoring case and any domain suffix."""
        wanted = dict((n, n.split(".")[0].upper()) for n in names)
        short = sorted(set(wanted.values()))
        rows = []
        for i in range(0, len(short), FILTER_CHUNK):
            rows += self.query("/wmi/SMS_R_System", filter="%s and Obsolete eq 0" % any_of("Name", short[i:i + FILTER_CHUNK]),
                               select=["ResourceID", "Name", "ResourceNames", "Client", "Active"])
        found = dict((n, []) for n in names)
        for name, netbios in wanted.items():
            found[name] = [r for r in rows if str(r.get("Name", "")).upper() == netbios]
        return found

    # -- collections ------------------------------------------------------------------------

    def find_collections(self, name):
        return self.query("/wmi/SMS_Collection", filter="Name eq %s" % odata_string(name))

    def collection(self, ref):
        """The collection named or identified by ``ref``, with its CollectionRules, or None.
        An ID is tried first; a name is compared without case, as the site does."""
        if COLLECTION_ID.match(ref):
            found = self.get_collection(ref.upper())
            if found is not None:
                return found
        hits = self.find_collections(ref)
        if not hits:
            return None
        if len(hits) > 1:
            raise ConfigMgrApiError("%s: %d collections are named %r (%s); name one by CollectionID." % (
                self.label, len(hits), ref, ", ".join(h["CollectionID"] for h in hits)), server=self.server)
        return self.get_collection(hits[0]["CollectionID"])

    def get_collection(self, collection_id):
        """The collection with its CollectionRules (a lazy property, read by key), or None."""
        return self.instance("/wmi/SMS_Collection(%s)" % odata_string(collection_id))

    def create_collection(self, name, limit_to, comment="", collection_type=2):
        body = dict(Name=name, LimitToCollectionID=limit_to, CollectionType=collection_type, Comment=comment or "")
        try:
            return self.request("POST", "/wmi/SMS_Collection", body=body, expected=(200, 201))
        except (ConfigMgrConnectionError, ConfigMgrApiError) as exc:
            if isinstance(exc, ConfigMgrApiError) and exc.status not in RETRY_STATUSES:
                raise
            # The POST may have created it: look before anyone sends it again.
            found = self.find_collections(name)
            if len(found) == 1:
                return found[0]
            raise

    def delete_collection(self, collection_id):
        self.request("DELETE", "/wmi/SMS_Collection(%s)" % odata_string(collection_id))

    def _collection_method(self, collection_id, method, body):
        # AddMembershipRule(s)/DeleteMembershipRule(s)/RequestRefresh end in the same state when
        # repeated, so they are retried like GETs.
        return self.request("POST", "/wmi/SMS_Collection(%s)/AdminService.%s" % (odata_string(collection_id), method),
                            body=body, safe=True) or {}

    def _check_return(self, answer, what, collection_id):
        value = answer.get("ReturnValue", 0)
        if value not in (0, None):
            raise ConfigMgrApiError("%s: %s on collection %s returned %s." % (self.label, what, collection_id, value),
                                    server=self.server, method="POST", code=str(value))

    @staticmethod
    def direct_rule(device):
        return {"@odata.type": DIRECT_RULE_TYPE, "ResourceClassName": "SMS_R_System",
                "RuleName": device["Name"], "ResourceID": int(device["ResourceID"])}

    def add_direct_rules(self, collection_id, devices):
        rules = [self.direct_rule(d) for d in devices]
        if len(rules) == 1:
            answer = self._collection_method(collection_id, "AddMembershipRule", {"collectionRule": rules[0]})
        else:
            answer = self._collection_method(collection_id, "AddMembershipRules", {"collectionRules": rules})
        self._check_return(answer, "AddMembershipRule", collection_id)

    def delete_direct_rules(self, collection_id, devices):
        rules = [self.direct_rule(d) for d in devices]
        if len(rules) == 1:
            answer = self._collection_method(collection_id, "DeleteMembershipRule", {"collectionRule": rules[0]})
        else:
            answer = self._collection_method(collection_id, "DeleteMembershipRules", {"collectionRules": rules})
        self._check_return(answer, "DeleteMembershipRule", collection_id)

    def request_refresh(self, collection_id):
        self._check_return(self._collection_method(collection_id, "RequestRefresh", {}), "RequestRefresh",
                           collection_id)

    def members(self, collection_id):
        """ResourceIDs of the collection's evaluated members."""
        rows = self.query("/wmi/SMS_FullCollectionMembership", filter="CollectionID eq %s" % odata_string(collection_id),
                          select=["ResourceID"])
        return sorted(int(r["ResourceID"]) for r in rows)

    def member_details(self, collection_id):
        """The collection's evaluated members (name, ResourceID, domain, direct or not), by name."""
        rows = self.query("/wmi/SMS_FullCollectionMembership", filter="CollectionID eq %s" % odata_string(collection_id),
                          select=["ResourceID", "Name", "Domain", "IsDirect", "IsClient"])
        return sorted(rows, key=lambda r: (str(r.get("Name") or "").upper(), int(r["ResourceID"])))

    def wait_for_members(self, collection_id, present=(), absent=(), wait_timeout=600, poll_interval=5.0):
        """Poll the evaluated membership until every ``present`` ID is in it and no ``absent`` ID is."""
        present, absent = set(present), set(absent)
        deadline = Deadline(wait_timeout)
        while True:
            members = set(self.members(collection_id))
            if present <= members and not (absent & members):
                return sorted(members)
            if deadline.expired():
                raise ConfigMgrTimeoutError(
                    "%s: collection %s has not been evaluated as expected after %ss (wait_timeout): still missing %s, "
                    "still present %s. The evaluation may yet finish; run again later or raise wait_timeout." % (
                        self.label, collection_id, int(deadline.elapsed), sorted(present - members),
                        sorted(absent & members)), server=self.server, method="GET",
                    path="/AdminService/wmi/SMS_FullCollectionMembership")
            self._sleep(max(0.0, min(poll_interval, deadline.remaining)))

    def pause(self, seconds):
        """Sleep between two polls of a caller's own wait loop."""
        self._sleep(max(0.0, seconds))

    # -- clients, deployments, compliance ---------------------------------------------------

    def client_operation(self, op_type, collection_id, resource_ids=()):
        """Send a client notification; returns the OperationID. Not repeated after an ambiguous failure."""
        body = dict(Type=int(op_type), TargetCollectionID=collection_id, RandomizationWindow=0,
                    TargetResourceIDs=[int(r) for r in resource_ids])
        answer = self.request("POST", "/wmi/SMS_ClientOperation.InitiateClientOperation", body=body) or {}
        self._check_return(answer, "InitiateClientOperation", collection_id)
        return answer.get("OperationID")

    def find_deployments(self, assignment_id=None, name=None):
        if assignment_id is not None:
            flt = "AssignmentID eq %d" % int(assignment_id)
        else:
            flt = "AssignmentName eq %s" % odata_string(name)
        return self.query("/wmi/SMS_UpdatesAssignment", filter=flt)

    def update_group(self, ref):
        """The software update group (SMS_AuthorizationList, with its Updates) named or identified (CI_ID) by
        ``ref``, or None. A name is compared without case, as the site does; two groups of one name are an error."""
        ref = str(ref).strip()
        if ref.isdigit():
            found = self.instance("/wmi/SMS_AuthorizationList(%d)" % int(ref))
            if found is not None:
                return found
        hits = self.query("/wmi/SMS_AuthorizationList", filter="LocalizedDisplayName eq %s" % odata_string(ref),
                          select=["CI_ID", "LocalizedDisplayName"])
        if len(hits) > 1:
            raise ConfigMgrApiError("%s: %d software update groups are named %r (CI_ID %s); name one by CI_ID." % (
                self.label, len(hits), ref, ", ".join(str(h["CI_ID"]) for h in hits)), server=self.server)
        # Updates is a lazy property: only a read by key has it.
        return self.instance("/wmi/SMS_AuthorizationList(%d)" % int(hits[0]["CI_ID"])) if hits else None

    def group_deployments(self, update_group_id, collection_id):
        """SMS_UpdateGroupAssignment rows deploying one update group to one collection."""
        return self.query("/wmi/SMS_UpdateGroupAssignment", filter="AssignedUpdateGroup eq %d and TargetCollectionID eq %s" % (
            int(update_group_id), odata_string(collection_id)))

    def group_deployment(self, assignment_id):
        """One SMS_UpdateGroupAssignment by AssignmentID, or None."""
        return self.instance("/wmi/SMS_UpdateGroupAssignment(%d)" % int(assignment_id))

    def update_compliance(self, resource_ids, ci_ids):
        """SMS_UpdateComplianceStatus rows for these devices, limited to these updates (a deployment's)."""
        rows = []
        ci_ids = sorted(set(int(c) for c in ci_ids))
        devices = sorted(set(int(r) for r in resource_ids))
        if not ci_ids or not devices:
            return rows
        updates = any_of("CI_ID", ci_ids, literal=_integer)
        for i in range(0, len(devices), FILTER_CHUNK):
            chunk = devices[i:i + FILTER_CHUNK]
            machines = "MachineID eq %d" % chunk[0] if len(chunk) == 1 else any_of("MachineID", chunk, literal=_integer)
            rows += self.query("/wmi/SMS_UpdateComplianceStatus", filter="%s and %s" % (machines, updates))
        return rows

    def software_updates(self, ci_ids):
        """SMS_SoftwareUpdate rows of these CI_IDs."""
        ci_ids = sorted(set(int(c) for c in ci_ids))
        if not ci_ids:
            return []
        return self.query("/wmi/SMS_SoftwareUpdate", filter=any_of("CI_ID", ci_ids, literal=_integer),
                          select=["CI_ID", "ArticleID", "BulletinID", "LocalizedDisplayName"])

    def deployment_assets(self, assignment_id, resource_ids=None):
        """SMS_SUMDeploymentAssetDetails rows of one deployment (optionally only some devices)."""
        flt = "AssignmentID eq %d" % int(assignment_id)
        if resource_ids:
            flt += " and %s" % any_of("ResourceID", sorted(set(int(r) for r in resource_ids)), literal=_integer)
        return self.query("/wmi/SMS_SUMDeploymentAssetDetails", filter=flt)

    def online_status(self, resource_ids):
        """{ResourceID: CNIsOnline} from SMS_CombinedDeviceResources."""
        ids = sorted(set(int(r) for r in resource_ids))
        if not ids:
            return {}
        rows = self.query("/wmi/SMS_CombinedDeviceResources",
                          filter=any_of("ResourceID", ids, literal=_integer),
                          select=["ResourceID", "CNIsOnline"])
        return dict((int(r["ResourceID"]), bool(r.get("CNIsOnline"))) for r in rows)
