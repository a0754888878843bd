"""`ConfigMgrServer`: the AdminService (OData v4 over HTTPS) of one ConfigMgr site on loopback.

Request flow: `/_sim/...` -> the admin API (loopback, unauthenticated); anything else -> fault
rules, Windows authentication (Negotiate/NTLM through pyspnego's acceptor, connection-based as
IIS does it; Basic when enabled), then the routes of `/AdminService/wmi/` and
`/AdminService/v1.0/`. Every API error is an OData error body `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import os
import re
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import spnego
import spnego.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from spnego.channel_bindings import GssChannelBindings

from ..psrp.transport import Handler, HTTPServer, ssl_context
from ..tintri.errors import ApiError
from ..tintri.faults import FaultBook, RequestLog
from . import admin
from .classes import V1_ENTITIES, WMI_CLASSES
from .model import CLIENT_OPERATION_TYPES, SiteModel, load_description
from .odata import ODataError, bad_request, not_found, query

log = logging.getLogger("simulators.configmgr")
PREFIX = "/AdminService"
DEFAULT_PAGE_SIZE = 1000
# pyspnego's NTLM acceptor reads its user file from this process-wide variable at each step.
_NTLM_ENV_LOCK = threading.Lock()
HTTP_CODES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
              409: "Conflict", 415: "UnsupportedMediaType", 429: "TooManyRequests", 500: "InternalServerError",
              502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
_KEYED = re.compile(r"^(?P<cls>[A-Za-z_][A-Za-z0-9_]*)\((?P<key>[^)]*)\)(?:/(?P<method>[A-Za-z0-9_.]+))?$")
_STATIC = re.compile(r"^(?P<cls>[A-Za-z_][A-Za-z0-9_]*)\.(?P<method>[A-Za-z0-9_]+)$")

INSTANCE_METHODS = ("AddMembershipRule", "AddMembershipRules", "DeleteMembershipRule", "DeleteMembershipRules",
                    "RequestRefresh")
DIRECT_RULE_TYPE = "#AdminService.SMS_CollectionRuleDirect"
COLLECTION_WRITABLE = {"Name", "Comment", "CollectionType", "LimitToCollectionID", "RefreshType", "@odata.type"}


class Reply:
    def __init__(self, status: int, body=None, headers: list[tuple[str, str]] | None = None,
                 content_type: str = "application/json; odata.metadata=minimal"):
        self.status = status
        self.body = body
        self.headers = headers or []
        self.content_type = content_type


def _error(exc: ODataError) -> Reply:
    return Reply(exc.status, exc.body())


def _parse_key(raw: str, string_key: bool):
    raw = raw.strip()
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        return raw[1:-1].replace("''", "'")
    if raw.isdigit() and not string_key:
        return int(raw)
    raise bad_request(f"The key value '{raw}' is not valid for this type.")


class ConfigMgrServer:
    """One site's AdminService. ``endpoints`` has what clients need; ``model`` is the site."""

    def __init__(self, state_dir, pki, description=None, *, host: str = "127.0.0.1", port: int = 0,
                 page_size: int | None = None, timings: dict | None = None, basic: bool | None = None,
                 extended_protection: bool = True):
        self.state_dir = Path(state_dir).resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        desc = load_description(description)
        self.model = SiteModel(self.state_dir, desc, timings)
        creds = desc.get("credentials") or {}
        self.domain = str(creds.get("domain", "LAB"))
        self.users = {str(creds.get("username", "cmadmin")).lower(): ("full", str(creds.get("password", "CM-Lab-1!")))}
        ro = creds.get("readonly")
        if ro:
            self.users[str(ro["username"]).lower()] = ("read_only", str(ro["password"]))
        self.basic = bool(desc.get("basic_auth", True) if basic is None else basic)
        self.page_size = int(page_size or desc.get("page_size") or DEFAULT_PAGE_SIZE)
        self.pki = pki
        # IIS Extended Protection: the NTLM answer must carry this server certificate's tls-server-end-point
        self.channel_bindings = _channel_bindings(pki.cert_path) if extended_protection else None
        self.host = host
        self._requested_port = port or self._last_port()
        self.faults = FaultBook()
        self.requests = RequestLog()
        self.auth_counts: Counter[str] = Counter()
        self.user_file = self.state_dir / "ntlm_users"
        self._write_user_file()
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def _last_port(self) -> int:
        try:
            return int((self.state_dir / "port").read_text())
        except (OSError, ValueError):
            return 0

    def _write_user_file(self) -> None:
        lines = []
        for user, (_, password) in self.users.items():
            lines += [f"{self.domain}:{user}:{password}", f":{user}:{password}"]
        fd = os.open(self.user_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")

    def start(self) -> ConfigMgrServer:
        if self._httpd is not None:
            return self
        try:
            self._httpd = HTTPServer((self.host, self._requested_port), Handler, self, ssl_context(self.pki))
        except OSError:
            self._httpd = HTTPServer((self.host, 0), Handler, self, ssl_context(self.pki))
        (self.state_dir / "port").write_text(str(self.port))
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"configmgr-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ConfigMgrServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return self._httpd.server_address[1]

    @property
    def endpoints(self) -> dict:
        full = next(u for u, (role, _) in self.users.items() if role == "full")
        out = {"hostname": f"localhost:{self.port}", "url": f"https://localhost:{self.port}", "port": self.port,
               "domain": self.domain, "username": f"{self.domain}\\{full}", "password": self.users[full][1],
               "basic_auth": self.basic, "site_code": self.model.site_code}
        ro = next((u for u, (role, _) in self.users.items() if role == "read_only"), None)
        if ro:
            out.update(readonly_username=f"{self.domain}\\{ro}", readonly_password=self.users[ro][1])
        return out

    @property
    def passwords(self) -> list[str]:
        return [p for _, p in self.users.values()]

    # -- HTTP -----------------------------------------------------------------------------------

    def _send(self, h: Handler, reply: Reply) -> None:
        if reply.body is None:
            data = b""
        elif isinstance(reply.body, (bytes, str)):
            data = reply.body.encode() if isinstance(reply.body, str) else reply.body
        else:
            data = json.dumps(reply.body, separators=(",", ":")).encode()
        h.send_response(reply.status)
        if data:
            h.send_header("Content-Type", reply.content_type)
        h.send_header("Content-Length", str(len(data)))
        if data and reply.content_type.startswith("application/json"):
            h.send_header("OData-Version", "4.0")
        for k, v in reply.headers:
            h.send_header(k, v)
        h.end_headers()
        if data and h.command != "HEAD":
            h.wfile.write(data)

    def _handle(self, h: Handler) -> None:
        started = time.time()
        parts = urlsplit(h.path)
        path, raw_query = unquote(parts.path), parts.query
        try:
            body = h.read_body()
        except (ValueError, OSError):
            h.close_connection = True
            self._send(h, _error(bad_request("malformed request body")))
            return
        if path.startswith("/_sim"):
            try:
                reply = admin.handle(self, h.command, path, raw_query, body)
            except (ODataError, ApiError, ValueError, KeyError, TypeError) as exc:
                status = getattr(exc, "status", 400)
                reply = Reply(status, {"error": {"code": HTTP_CODES.get(status, str(status)), "message": str(exc)}})
            self._send(h, reply)
            return
        status = self._api(h, path, raw_query, body)
        self.requests.add("configmgr", h.command, path, raw_query, status, (time.time() - started) * 1000)

    def _api(self, h: Handler, path: str, raw_query: str, body: bytes) -> int:
        hits = self.faults.match_http("configmgr", h.command, path)
        delay = sum(r.get("latency_ms", 0) for r in hits) / 1000.0
        if delay:
            time.sleep(delay)
        if any(r["action"] == "drop" for r in hits):
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return 0
        error = next((r for r in hits if r["action"] == "error"), None)
        if error is not None:
            reply = Reply(error["status"], {"error": {"code": error["code"], "message": error["message"]}})
        else:
            user, challenge = self._authenticate(h)
            if user is None:
                reply = challenge
            else:
                try:
                    reply = self._route(h.command, path, raw_query, body, user, h)
                except ODataError as exc:
                    reply = _error(exc)
                except Exception as exc:  # an unexpected failure is a 500, never a dropped connection
                    log.exception("%s %s failed", h.command, path)
                    reply = Reply(500, {"error": {"code": "InternalServerError", "message": f"{type(exc).__name__}: {exc}"}})
                if challenge is not None:
                    reply.headers += challenge.headers
        self._send(h, reply)
        return reply.status

    # -- authentication -------------------------------------------------------------------------

    def _challenge(self) -> Reply:
        headers = [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")]
        if self.basic:
            headers.append(("WWW-Authenticate", 'Basic realm="AdminService"'))
        html = "<html><head><title>401 - Unauthorized</title></head><body>401 - Unauthorized: Access is denied due to invalid credentials.</body></html>"
        return Reply(401, html, headers, content_type="text/html")

    def _role(self, principal: str) -> tuple[str, str] | None:
        name = principal.split("\\")[-1].split("@")[0].lower()
        entry = self.users.get(name)
        return (name, entry[0]) if entry else None

    def _authenticate(self, h: Handler):
        """(user, None) when authenticated; (None, 401 reply) otherwise; (user, reply-with-final-token)
        when a Negotiate exchange completes with a token for the client."""
        header = h.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        scheme = scheme.lower()
        if not header:
            user = getattr(h, "cm_user", None)  # an NTLM-authenticated connection stays authenticated
            return (user, None) if user else (None, self._challenge())
        if scheme == "basic":
            if not self.basic:
                return None, self._challenge()
            try:
                name, _, password = base64.b64decode(token.strip()).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None, self._challenge()
            found = self._role(name)
            if found is None or not hmac.compare_digest(password.encode(), self.users[found[0]][1].encode()):
                return None, self._challenge()
            self.auth_counts["basic"] += 1
            return found, None
        if scheme in ("negotiate", "ntlm"):
            return self._negotiate(h, scheme, token.strip())
        return None, self._challenge()

    def _negotiate(self, h: Handler, scheme: str, token: str):
        try:
            raw = base64.b64decode(token, validate=True)
        except binascii.Error:
            return None, self._challenge()
        ctx = getattr(h, "cm_ctx", None)
        if ctx is None or raw[:1] == b"\x60" or raw.startswith(b"NTLMSSP\x00\x01\x00\x00\x00"):
            ctx = spnego.server(hostname="localhost", service="HTTP", protocol="negotiate",
                                channel_bindings=self.channel_bindings)
            h.cm_ctx = ctx
            h.cm_user = None
        try:
            with _NTLM_ENV_LOCK:
                os.environ["NTLM_USER_FILE"] = str(self.user_file)
                out = ctx.step(raw)
        except spnego.exceptions.SpnegoError:
            h.cm_ctx = None
            self.auth_counts["failed"] += 1
            return None, self._challenge()
        label = "Negotiate" if scheme == "negotiate" else "NTLM"
        header = [("WWW-Authenticate", f"{label} {base64.b64encode(out).decode()}")] if out else []
        if not ctx.complete:
            html = "<html><body>401 - Unauthorized</body></html>"
            return None, Reply(401, html, header, content_type="text/html")
        h.cm_ctx = None
        found = self._role(ctx.client_principal or "")
        if found is None:
            return None, self._challenge()
        h.cm_user = found
        self.auth_counts[scheme] += 1
        return found, (Reply(200, None, header) if header else None)

    # -- routes ---------------------------------------------------------------------------------

    def _route(self, method: str, path: str, raw_query: str, body: bytes, user, h) -> Reply:
        if not path.lower().startswith(PREFIX.lower() + "/"):
            raise not_found(f"No HTTP resource was found that matches the request URI '{path}'.")
        rest = path[len(PREFIX) + 1:]
        route, _, sub = rest.partition("/")
        base = f"https://localhost:{self.port}{PREFIX}/{route}"
        if method != "GET" and user[1] == "read_only":
            raise ODataError(403, "Forbidden", f"The user '{user[0]}' has no permission to {method} {path} "
                                               "(a read-only administrative role).")
        if route.lower() == "wmi":
            return self._wmi(method, sub, raw_query, body, base)
        if route.lower() == "v1.0":
            return self._v1(method, sub, raw_query, base)
        raise not_found(f"No HTTP resource was found that matches the request URI '{path}'.")

    def _list(self, cls, raw_query: str, base: str, context_base: str) -> Reply:
        self.model.settle()
        with self.model.lock:
            rows = cls.rows(self.model)
        for r in rows:
            for p in cls.lazy:
                r.pop(p, None)
        props = [p for p in cls.properties if p not in cls.lazy]
        body = query(rows, raw_query, cls.name, props, cls.arrays, self.page_size,
                     f"{base}/{cls.name}", f"{context_base}/$metadata#{cls.name}")
        return Reply(200, body)

    def _one(self, cls, key, raw_query: str, context_base: str) -> dict:
        self.model.settle()
        with self.model.lock:
            rows = [r for r in cls.rows(self.model)
                    if (str(r[cls.key]).upper() == str(key).upper() if cls.key_is_string else r[cls.key] == key)]
        if not rows:
            raise not_found(f"No instance of {cls.name} with {cls.key} {key!r} was found.")
        body = query(rows[:1], raw_query, cls.name, cls.properties, cls.arrays, 1, "", "")
        return body["value"][0]

    def _wmi(self, method: str, sub: str, raw_query: str, body: bytes, base: str) -> Reply:
        context_base = base
        keyed = _KEYED.match(sub)
        static = _STATIC.match(sub) if not keyed else None
        name = (keyed or static).group("cls") if (keyed or static) else sub
        cls = WMI_CLASSES.get(name.lower())
        if cls is None:
            raise not_found(f"No HTTP resource was found that matches the request URI '{PREFIX}/wmi/{sub}'.")
        if static:
            if method != "POST":
                raise ODataError(405, "MethodNotAllowed", f"{method} is not allowed on {sub}.")
            return self._static_method(cls.name, static.group("method"), _json_body(body), context_base)
        if keyed:
            key = _parse_key(keyed.group("key"), cls.key_is_string)
            if keyed.group("method"):
                if method != "POST":
                    raise ODataError(405, "MethodNotAllowed", f"{method} is not allowed on {sub}.")
                return self._instance_method(cls.name, key, keyed.group("method"), body, context_base)
            if method == "GET":
                return Reply(200, {"@odata.context": f"{context_base}/$metadata#{cls.name}",
                                   "value": [self._one(cls, key, raw_query, context_base)]})
            if method == "DELETE" and cls.name == "SMS_Collection":
                self.model.delete_collection(str(key))
                return Reply(204)
            raise ODataError(405, "MethodNotAllowed", f"{method} is not allowed on {cls.name}({keyed.group('key')}).")
        if method == "GET":
            return self._list(cls, raw_query, base, context_base)
        if method == "POST" and cls.name == "SMS_Collection":
            return self._create_collection(_json_body(body), context_base)
        raise ODataError(405, "MethodNotAllowed", f"{method} is not allowed on {cls.name}.")

    def _v1(self, method: str, sub: str, raw_query: str, base: str) -> Reply:
        keyed = _KEYED.match(sub)
        name = keyed.group("cls") if keyed else sub
        cls = V1_ENTITIES.get(name.lower())
        if cls is None:
            raise not_found(f"No HTTP resource was found that matches the request URI '{PREFIX}/v1.0/{sub}'.")
        if method != "GET":
            raise ODataError(405, "MethodNotAllowed", f"{method} is not allowed on {sub}.")
        if keyed:
            if keyed.group("method"):
                raise not_found(f"No HTTP resource was found that matches the request URI '{PREFIX}/v1.0/{sub}'.")
            row = self._one(cls, _parse_key(keyed.group("key"), False), raw_query, base)
            return Reply(200, dict({"@odata.context": f"{base}/$metadata#{cls.name}/$entity"}, **row))
        return self._list(cls, raw_query, base, base)

    def _create_collection(self, data: dict, context_base: str) -> Reply:
        unknown = sorted(set(data) - COLLECTION_WRITABLE)
        if unknown:
            raise bad_request(f"The property '{unknown[0]}' does not exist on type 'AdminService.SMS_Collection' "
                              "or is read-only.")
        for prop, kind in (("Name", str), ("LimitToCollectionID", str), ("CollectionType", int)):
            if not isinstance(data.get(prop), kind) or isinstance(data.get(prop), bool) or data.get(prop) in ("",):
                raise bad_request(f"The property '{prop}' is required ({kind.__name__}).")
        if data["CollectionType"] not in (1, 2):
            raise bad_request("CollectionType must be 1 (user) or 2 (device).")
        if "Comment" in data and not isinstance(data["Comment"], str):
            raise bad_request("The property 'Comment' must be a string.")
        coll = self.model.create_collection(data["Name"], data["LimitToCollectionID"], data["CollectionType"],
                                            data.get("Comment", ""))
        row = self._one(WMI_CLASSES["sms_collection"], coll["CollectionID"], "", context_base)
        row.pop("CollectionRules", None)
        return Reply(201, dict({"@odata.context": f"{context_base}/$metadata#SMS_Collection/$entity"}, **row))

    def _instance_method(self, cls_name: str, key, method_name: str, body: bytes, context_base: str) -> Reply:
        verb = method_name.split(".", 1)[1] if method_name.lower().startswith("adminservice.") else None
        if cls_name != "SMS_Collection" or verb is None or verb.lower() not in {m.lower() for m in INSTANCE_METHODS}:
            raise not_found(f"No HTTP resource was found that matches the request URI "
                            f"'{PREFIX}/wmi/{cls_name}({key!r})/{method_name}'.")
        canonical = next(m for m in INSTANCE_METHODS if m.lower() == verb.lower())
        verb = verb.lower()
        data = _json_body(body, allow_empty=verb == "requestrefresh")
        self.model.collection(str(key))
        context = f"{context_base}/$metadata#AdminService.{canonical}"
        if verb == "requestrefresh":
            extra = sorted(set(data) - {"IncludeSubCollections"})
            if extra:
                raise bad_request(f"RequestRefresh has no parameter '{extra[0]}'.")
            self.model.request_refresh(str(key))
            return Reply(200, {"@odata.context": context, "ReturnValue": 0})
        plural = verb.endswith("rules")
        param = "collectionRules" if plural else "collectionRule"
        extra = sorted(set(data) - {param})
        if extra or param not in data:
            raise bad_request(f"{method_name} takes exactly one parameter, '{param}'.")
        rules = data[param] if plural else [data[param]]
        if not isinstance(rules, list) or not rules:
            raise bad_request(f"'{param}' must be {'a non-empty array of rules' if plural else 'a rule'}.")
        checked = [_direct_rule(r) for r in rules]
        if verb.startswith("add"):
            self.model.add_direct_rules(str(key), checked)
        else:
            self.model.delete_direct_rules(str(key), checked)
        answer = {"@odata.context": context, "ReturnValue": 0}
        if verb.startswith("add"):
            answer.update({"QueryIDs": [0] * len(checked)} if plural else {"QueryID": 0})
        return Reply(200, answer)

    def _static_method(self, cls_name: str, method_name: str, data: dict, context_base: str) -> Reply:
        if (cls_name, method_name.lower()) != ("SMS_ClientOperation", "initiateclientoperation"):
            raise not_found(f"No HTTP resource was found that matches the request URI "
                            f"'{PREFIX}/wmi/{cls_name}.{method_name}'.")
        allowed = {"Type", "TargetCollectionID", "RandomizationWindow", "TargetResourceIDs"}
        extra = sorted(set(data) - allowed)
        if extra:
            raise bad_request(f"InitiateClientOperation has no parameter '{extra[0]}'.")
        op_type = data.get("Type")
        if not isinstance(op_type, int) or isinstance(op_type, bool) or op_type not in CLIENT_OPERATION_TYPES:
            raise bad_request(f"Type must be one of {sorted(CLIENT_OPERATION_TYPES)}.")
        target = data.get("TargetCollectionID")
        if not isinstance(target, str) or not target:
            raise bad_request("TargetCollectionID is required.")
        ids = data.get("TargetResourceIDs") or []
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise bad_request("TargetResourceIDs must be an array of integers.")
        window = data.get("RandomizationWindow", 0)
        if not isinstance(window, int) or isinstance(window, bool):
            raise bad_request("RandomizationWindow must be an integer.")
        op_id = self.model.client_operation(op_type, target, ids)
        return Reply(200, {"@odata.context": f"{context_base}/$metadata#AdminService.InitiateClientOperation",
                           "OperationID": op_id, "ReturnValue": 0})


def _channel_bindings(cert_path) -> GssChannelBindings:
    """RFC 5929 tls-server-end-point of the server certificate (SHA-256 unless it is signed with stronger)."""
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    algorithm = cert.signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(cert.public_bytes(serialization.Encoding.DER))
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest.finalize())


def _json_body(body: bytes, allow_empty: bool = False) -> dict:
    if not body.strip():
        if allow_empty:
            return {}
        raise bad_request("The request body is empty; a JSON object is expected.")
    try:
        data = json.loads(body)
    except ValueError:
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return data


def _direct_rule(rule) -> dict:
    if not isinstance(rule, dict):
        raise bad_request("A collection rule must be an object.")
    if rule.get("@odata.type") != DIRECT_RULE_TYPE:
        raise bad_request(f"A direct rule needs \"@odata.type\": \"{DIRECT_RULE_TYPE}\"; "
                          "the abstract SMS_CollectionRule cannot be created.")
    extra = sorted(set(rule) - {"@odata.type", "ResourceClassName", "RuleName", "ResourceID"})
    if extra:
        raise bad_request(f"The property '{extra[0]}' does not exist on type 'AdminService.SMS_CollectionRuleDirect'.")
    if rule.get("ResourceClassName") != "SMS_R_System":
        raise bad_request("ResourceClassName must be 'SMS_R_System' for a device collection.")
    rid = rule.get("ResourceID")
    if not isinstance(rid, int) or isinstance(rid, bool):
        raise bad_request("ResourceID must be an integer.")
    name = rule.get("RuleName")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("RuleName must be a non-empty string.")
    return {"RuleName": name, "ResourceID": rid, "ResourceClassName": "SMS_R_System"}
