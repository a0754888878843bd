# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A strict registry of expected HTTP calls for unit tests.

Each test registers, in order, the calls it expects and the answers to give. The registry
replaces the ``requests`` transport, so the client's real code (URL building, query strings,
cookies, retries, paging) runs. Any call that was not expected next fails the test at once,
and a test that leaves expected calls unmade fails at teardown: accidental extra writes or
missing reads cannot slip through.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

PAGE = "com.tintri.api.rest.v310.dto.Page"


class UnexpectedRequest(AssertionError):
    pass


class Expected:
    def __init__(self, method, path, status=200, json_body=None, params=None, body=None, cookies=None,
                 raise_exc=None, text=None, headers=None, respond=None):
        self.method = method
        self.path = path
        self.status = status
        self.json_body = json_body
        self.params = params
        self.body = body
        self.cookies = cookies or {}
        self.raise_exc = raise_exc
        self.text = text
        self.headers = headers or {}
        self.respond = respond

    def describe(self):
        return "%s %s%s" % (self.method, self.path, " %s" % self.params if self.params else "")


class RestRegistry:
    def __init__(self):
        self.expected = []
        self.made = []

    # -- registering ------------------------------------------------------------------------

    def expect(self, method, path, json=None, status=200, params=None, body=None, cookies=None, text=None,
               headers=None, respond=None):
        """Expect one call. ``params`` must match exactly (all keys); ``body`` may be a value or a predicate.
        ``headers`` are added to the answer; ``respond(call)`` may compute the answer from the request
        (returns a dict with any of status, headers, json)."""
        self.expected.append(Expected(method, path, status, json, params, body, cookies, text=text, headers=headers,
                                      respond=respond))
        return self

    def expect_error(self, method, path, status, code, message="", cause="", params=None):
        error = dict(typeId="com.tintri.api.rest.v310.dto.domain.beans.TintriError", code=code,
                     message=message, causeDetails=cause, title="")
        return self.expect(method, path, json=error, status=status, params=params)

    def expect_exception(self, method, path, exc):
        self.expected.append(Expected(method, path, raise_exc=exc))
        return self

    def expect_session(self, product="Tintri VMstore", version="v310.191", session="sess-1"):
        """The opening every module run makes: /api/info then login."""
        self.expect("GET", "/api/info", json=dict(
            typeId="com.tintri.api.rest.v.dto.domain.RestApi", productName=product,
            preferredVersion=version, supportedVersionSet=[version]))
        self.expect("POST", "/api/v310/session/login", json="ADMIN", cookies={"JSESSIONID": session},
                    body=lambda b: b["username"] and b["fullApiVersion"] == version)
        return self

    def expect_logout(self):
        return self.expect("POST", "/api/v310/session/logout", status=204)

    # -- checking ---------------------------------------------------------------------------

    def assert_all_consumed(self):
        if self.expected:
            raise AssertionError("Expected calls were never made: %s" % [e.describe() for e in self.expected])

    def calls(self, method=None):
        return [c for c in self.made if method is None or c["method"] == method]

    def send(self, adapter, request, **kwargs):
        url = urlsplit(request.url)
        params = dict((k, v if len(v) > 1 else v[0]) for k, v in parse_qs(url.query, keep_blank_values=True).items())
        body = json.loads(request.body) if request.body else None
        call = dict(method=request.method, path=url.path, params=params, body=body,
                    headers=dict(request.headers), verify=kwargs.get("verify"), host=url.netloc)
        self.made.append(call)
        if not self.expected:
            raise UnexpectedRequest("Unexpected call %s %s %s (nothing more was expected)" % (
                request.method, url.path, params))
        nxt = self.expected.pop(0)
        if (nxt.method, nxt.path) != (request.method, url.path):
            raise UnexpectedRequest("Expected %s but got %s %s %s" % (nxt.describe(), request.method, url.path, params))
        if nxt.params is not None and nxt.params != params:
            raise UnexpectedRequest("%s: expected query %s, got %s" % (nxt.describe(), nxt.params, params))
        if nxt.body is not None:
            ok = nxt.body(body) if callable(nxt.body) else nxt.body == body
            if not ok:
                raise UnexpectedRequest("%s: unexpected body %s" % (nxt.describe(), body))
        if nxt.raise_exc is not None:
            raise nxt.raise_exc
        if nxt.respond is not None:
            answer = nxt.respond(call)
            nxt.status = answer.get("status", nxt.status)
            nxt.headers = dict(nxt.headers, **answer.get("headers", {}))
            nxt.json_body = answer.get("json", nxt.json_body)
        response = self._response(request, nxt)
        response.connection = adapter  # what requests sets: auth handlers send the next leg through it
        return response

    @staticmethod
    def _response(request, nxt):
        response = requests.Response()
        response.status_code = nxt.status
        response.request = request
        response.url = request.url
        response.reason = {200: "OK", 201: "Created", 204: "No Content", 401: "Unauthorized"}.get(nxt.status, "Error")
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.headers.update(nxt.headers)
        if nxt.text is not None:
            response._content = nxt.text.encode()
        elif nxt.json_body is not None:
            response._content = json.dumps(nxt.json_body).encode()
        else:
            response._content = b""
        for name, value in nxt.cookies.items():
            response.cookies.set(name, value)
        return response


def page(items, next_link=None, total=None):
    body = dict(typeId=PAGE, items=items, filteredTotal=total if total is not None else len(items),
                total=total if total is not None else len(items), absoluteTotal=total or len(items),
                limit=2000, offset=0, page=1, pageTotal=1)
    if next_link:
        body["next"] = next_link
    return body
