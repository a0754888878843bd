#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: notify_mail
short_description: Send a runbook report by e-mail over SMTP
version_added: 0.1.0
description:
  - Sends a plain-text (and optionally HTML) report to one or more recipients, with optional file attachments,
    through an SMTP server. The collection's roles use it to mail their reports.
  - TLS is verified by default (C(STARTTLS) or implicit TLS); O(ca_path) trusts a private CA.
author:
  - vmops.datacenter maintainers (@vmops)
options:
  host:
    description:
      - SMTP server. If not set, the value of the E(VMOPS_SMTP_HOST) environment variable is used.
    type: str
    required: true
  port:
    description:
      - SMTP port. Defaults to 465 with O(secure=tls), else 587 with O(secure=starttls), else 25.
    type: int
  secure:
    description:
      - V(starttls) upgrades the connection with STARTTLS, V(tls) connects with TLS from the start,
        V(never) sends in clear text (only for a relay on the same trusted network).
    type: str
    choices: [starttls, tls, never]
    default: starttls
  username:
    description:
      - User for SMTP authentication; no authentication when unset.
        If not set, the value of the E(VMOPS_SMTP_USERNAME) environment variable is used.
    type: str
  password:
    description:
      - Password for SMTP authentication. If not set, the value of the E(VMOPS_SMTP_PASSWORD) environment variable is used.
    type: str
  validate_certs:
    description: Verify the server's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: PEM file of the CA that signed the SMTP server certificate.
    type: path
  timeout:
    description: Seconds to wait for the SMTP server.
    type: int
    default: 30
  sender:
    description: The From address.
    type: str
    required: true
  to:
    description: Recipients.
    type: list
    elements: str
    required: true
  subject:
    description: Subject line.
    type: str
    required: true
  body:
    description: Plain-text body.
    type: str
    required: true
  html_body:
    description: Optional HTML alternative of the body.
    type: str
  attachments:
    description: Files to attach (on the host that runs the module).
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - vmops.datacenter.attributes
  - vmops.datacenter.attributes.PLATFORM_CONTROLLER
attributes:
  check_mode:
    support: full
    details: In check mode nothing is sent; the message that would be sent is summarised.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Mail the pool recommendation report
  vmops.datacenter.notify_mail:
    host: smtp.example.com
    sender: vmops@example.com
    to: [storage-team@example.com]
    subject: "VMstore pool recommendations {{ ansible_date_time.date }}"
    body: "{{ lookup('ansible.builtin.file', '/var/lib/vmops/reports/pools.md') }}"
    attachments:
      - /var/lib/vmops/reports/pools.json
  delegate_to: localhost
"""

RETURN = r"""
sent:
  description: Whether the message was handed to the SMTP server (false in check mode).
  returned: always
  type: bool
message:
  description: What was sent (or would be sent in check mode).
  returned: always
  type: dict
  contains:
    subject:
      description: Subject line.
      type: str
    to:
      description: Recipients.
      type: list
      elements: str
    attachments:
      description: Attached file names.
      type: list
      elements: str
    size:
      description: Size of the message in bytes.
      type: int
"""

import mimetypes
import os
import smtplib
import ssl
from email.message import EmailMessage

from ansible.module_utils.basic import AnsibleModule, env_fallback


def build_message(params):
    message = EmailMessage()
    message["From"] = params["sender"]
    message["To"] = ", ".join(params["to"])
    message["Subject"] = params["subject"]
    message.set_content(params["body"])
    if params["html_body"]:
        message.add_alternative(params["html_body"], subtype="html")
    for path in params["attachments"]:
        kind, _encoding = mimetypes.guess_type(path)
        maintype, subtype = (kind or "application/octet-stream").split("/", 1)
        with open(path, "rb") as handle:
            message.add_attachment(handle.read(), maintype=maintype, subtype=subtype, filename=os.path.basename(path))
    return message


def tls_context(params):
    context = ssl.create_default_context(cafile=params["ca_path"])
    if not params["validate_certs"]:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def send(params, message):
    secure = params["secure"]
    port = params["port"] or {"tls": 465, "starttls": 587}.get(secure, 25)
    if secure == "tls":
        server = smtplib.SMTP_SSL(params["host"], port, timeout=params["timeout"], context=tls_context(params))
    else:
        server = smtplib.SMTP(params["host"], port, timeout=params["timeout"])
    with server:
        if secure == "starttls":
            server.starttls(context=tls_context(params))
        if params["username"]:
            server.login(params["username"], params["password"] or "")
        server.send_message(message)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type="str", required=True, fallback=(env_fallback, ["VMOPS_SMTP_HOST"])),
            port=dict(type="int"),
            secure=dict(type="str", choices=["starttls", "tls", "never"], default="starttls"),
            username=dict(type="str", fallback=(env_fallback, ["VMOPS_SMTP_USERNAME"])),
            password=dict(type="str", no_log=True, fallback=(env_fallback, ["VMOPS_SMTP_PASSWORD"])),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            timeout=dict(type="int", default=30),
            sender=dict(type="str", required=True),
            to=dict(type="list", elements="str", required=True),
            subject=dict(type="str", required=True),
            body=dict(type="str", required=True),
            html_body=dict(type="str"),
            attachments=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not params["to"]:
        module.fail_json(msg="Give at least one recipient in 'to'.")
    try:
        message = build_message(params)
    except OSError as exc:
        module.fail_json(msg="Cannot attach %s: %s" % (exc.filename, exc.strerror))
    summary = dict(subject=params["subject"], to=params["to"],
                   attachments=[os.path.basename(p) for p in params["attachments"]], size=len(message.as_bytes()))
    if module.check_mode:
        module.exit_json(changed=False, sent=False, message=summary)
    try:
        send(params, message)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        module.fail_json(msg="Sending the report through SMTP server %s failed: %s" % (params["host"], exc),
                         message=summary)
    # Like other notification modules: telling someone is not a change to the managed systems.
    module.exit_json(changed=False, sent=True, message=summary)


if __name__ == "__main__":
    main()
