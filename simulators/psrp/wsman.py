"""WS-Management over SOAP 1.2: parsing requests, writing responses and WinRM's faults.

Responses use the namespace prefixes, element order and fault texts of a Windows WinRM service
(taken from recorded Windows Server responses), so a client sees the same bytes it would in a
lab. Requests are read leniently: unknown headers, options and mustUnderstand flags are ignored.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

S = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
RSP = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
PWSH = "http://schemas.microsoft.com/powershell"

TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
ACTIONS = {
    TRANSFER + "Create": "Create",
    TRANSFER + "Delete": "Delete",
    TRANSFER + "Get": "Get",
    TRANSFER + "Put": "Put",
    SHELL + "Command": "Command",
    SHELL + "Send": "Send",
    SHELL + "Receive": "Receive",
    SHELL + "Signal": "Signal",
    SHELL + "Connect": "Connect",
    SHELL + "Disconnect": "Disconnect",
    SHELL + "Reconnect": "Reconnect",
    "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate": "Enumerate",
}
RESPONSE_ACTIONS = {
    "Create": TRANSFER + "CreateResponse",
    "Delete": TRANSFER + "DeleteResponse",
    "Get": TRANSFER + "GetResponse",
    "Command": SHELL + "CommandResponse",
    "Send": SHELL + "SendResponse",
    "Receive": SHELL + "ReceiveResponse",
    "Signal": SHELL + "SignalResponse",
}
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
POWERSHELL_URI = "http://schemas.microsoft.com/powershell/"
SHELL_RESOURCE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CONFIG_RESOURCE = "http://schemas.microsoft.com/wbem/wsman/1/config"
DONE = SHELL + "CommandState/Done"
SIGNAL_TERMINATE = SHELL + "signal/Terminate"
SIGNAL_PS_CTRL_C = "powershell/signal/ctrl_c"
SIGNAL_CTRL_C = SHELL + "signal/ctrl_c"
DEFAULT_ENVELOPE = 153600  # WS-Man's default when a request names none
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d*)?)S)?)?$")

_ENVELOPE_OPEN = (
    f'<s:Envelope xml:lang="en-US" xmlns:s="{S}" xmlns:a="{WSA}" '
    'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
    f'xmlns:w="{WSMAN}" xmlns:rsp="{RSP}" '
    'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
)


class WSManFault(Exception):
    """A SOAP fault with a WSManFault detail, sent with HTTP 500 like WinRM does."""

    def __init__(self, code: int, subcode: str, reason: str, message: str | None = None, *,
                 receiver: bool = False, fault_detail: str | None = None):
        super().__init__(message or reason)
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.message = message or reason
        self.receiver = receiver
        self.fault_detail = fault_detail

    def body(self, machine: str) -> str:
        detail = f"<w:FaultDetail>{escape(self.fault_detail)}</w:FaultDetail>" if self.fault_detail else ""
        return (
            "<s:Fault><s:Code><s:Value>" + ("s:Receiver" if self.receiver else "s:Sender") + "</s:Value>"
            f"<s:Subcode><s:Value>{self.subcode}</s:Value></s:Subcode></s:Code>"
            f'<s:Reason><s:Text xml:lang="en-US">{escape(self.reason)} </s:Text></s:Reason>'
            f"<s:Detail>{detail}"
            '<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
            f"Code={quoteattr(str(self.code))} Machine={quoteattr(machine)}>"
            f"<f:Message>{escape(self.message)} </f:Message></f:WSManFault></s:Detail></s:Fault>"
        )


_UNEXPECTED_SELECTORS = "The WS-Management service cannot process the request because the request contained invalid selectors for the resource."


def shell_not_found(shell_id: str) -> WSManFault:
    return WSManFault(
        2150858843, "w:InvalidSelectors", _UNEXPECTED_SELECTORS,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not found on "
        "the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the "
        "server. Provide the correct ShellId or create a new shell and retry the operation.",
        fault_detail="http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors")


def command_not_found() -> WSManFault:
    return WSManFault(
        2150858843, "w:InvalidSelectors", _UNEXPECTED_SELECTORS,
        "The Windows Remote Shell received a request to perform an operation on a command identifier that does not "
        "exist. Either the command has completed execution or the client specified an invalid command identifier.",
        fault_detail="http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors")


def invalid_selectors() -> WSManFault:
    return WSManFault(2150858843, "w:InvalidSelectors", _UNEXPECTED_SELECTORS,
                      fault_detail="http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors")


def timed_out() -> WSManFault:
    text = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout. "
    return WSManFault(2150858793, "w:TimedOut", text, receiver=True)


def action_not_supported(action: str) -> WSManFault:
    return WSManFault(2150858771, "a:ActionNotSupported",
                      "The WS-Management service does not support the action specified in the request.",
                      f"The WS-Management service does not support the action {action}.")


def schema_error(why: str) -> WSManFault:
    return WSManFault(2150858817, "w:SchemaValidationError",
                      "The SOAP XML in the message does not match the corresponding XML schema definition. "
                      "Change the XML and retry.", f"The SOAP XML in the message does not match the corresponding "
                      f"XML schema definition. Change the XML and retry. ({why})")


def unknown_configuration(name: str, machine: str) -> WSManFault:
    return WSManFault(2150858770, "a:DestinationUnreachable",
                      "The WS-Management service cannot process the request because the resource URI is not valid.",
                      f"The WS-Management service cannot process the request. Cannot find the {name} session "
                      f"configuration in the WSMan: drive on the {machine} computer.")


def invalid_resource_uri(uri: str) -> WSManFault:
    return WSManFault(2150858811, "w:InvalidResourceURI",
                      "The WS-Management service cannot process the request. The resource URI is missing or it has "
                      "an incorrect format.", f"The WS-Management service cannot process the request. The resource "
                      f"URI {uri} is missing or it has an incorrect format.")


def already_exists(shell_id: str) -> WSManFault:
    return WSManFault(2150858803, "w:AlreadyExists",
                      "The WS-Management service cannot create the resource because it already exists.",
                      f"The WS-Management service cannot create the shell {shell_id} because it already exists.")


@dataclass
class Request:
    action: str
    name: str
    resource_uri: str
    message_id: str | None
    max_envelope: int
    timeout: float | None
    selectors: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    body: ET.Element | None = None

    @property
    def shell_id(self) -> str | None:
        value = self.selectors.get("ShellId")
        return value.upper() if value else None


def duration(text: str | None) -> float | None:
    """xs:duration as used by WS-Man (PT20S, PT20.000S, PT1M30S); None when absent or malformed."""
    if not text:
        return None
    m = _DURATION.match(text.strip())
    if not m:
        return None
    days, hours, minutes, seconds = m.groups()
    return int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def _text(header: ET.Element, path: str) -> str | None:
    el = header.find(path)
    return el.text.strip() if el is not None and el.text else None


def parse(data: bytes) -> Request:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise schema_error(f"not XML: {exc}") from None
    if root.tag != f"{{{S}}}Envelope":
        raise schema_error("the root element is not a SOAP 1.2 Envelope")
    header = root.find(f"{{{S}}}Header")
    body = root.find(f"{{{S}}}Body")
    if header is None or body is None:
        raise schema_error("the Envelope needs a Header and a Body")
    action = _text(header, f"{{{WSA}}}Action") or ""
    message_id = _text(header, f"{{{WSA}}}MessageID")
    try:
        max_envelope = int(_text(header, f"{{{WSMAN}}}MaxEnvelopeSize") or DEFAULT_ENVELOPE)
    except ValueError:
        max_envelope = DEFAULT_ENVELOPE
    req = Request(
        action=action,
        name=ACTIONS.get(action, action.rsplit("/", 1)[-1] or "?"),
        resource_uri=_text(header, f"{{{WSMAN}}}ResourceURI") or "",
        message_id=message_id,
        max_envelope=max_envelope,
        timeout=duration(_text(header, f"{{{WSMAN}}}OperationTimeout")),
        body=next(iter(body), None),
    )
    for sel in header.iterfind(f"{{{WSMAN}}}SelectorSet/{{{WSMAN}}}Selector"):
        req.selectors[sel.get("Name", "")] = (sel.text or "").strip()
    for opt in header.iterfind(f"{{{WSMAN}}}OptionSet/{{{WSMAN}}}Option"):
        req.options[opt.get("Name", "")] = (opt.text or "").strip()
    return req


def envelope(action: str, relates_to: str | None, body: str) -> bytes:
    relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to else ""
    return (
        f"{_ENVELOPE_OPEN}<s:Header><a:Action>{action}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To>{relates}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode("utf-8")


def fault_envelope(fault: WSManFault, relates_to: str | None, machine: str) -> bytes:
    return envelope(FAULT_ACTION, relates_to, fault.body(machine))


def shell_xml(info: dict) -> str:
    """The rsp:Shell description returned by Create and Get."""
    order = ("ShellId", "ResourceUri", "Owner", "ClientIP", "ProcessId", "IdleTimeOut", "InputStreams",
             "OutputStreams", "MaxIdleTimeOut", "Locale", "DataLocale", "CompressionMode", "ProfileLoaded",
             "Encoding", "BufferMode", "State", "ShellRunTime", "ShellInactivity")
    parts = "".join(f"<rsp:{k}>{escape(str(info[k]))}</rsp:{k}>" for k in order if k in info)
    return f'<rsp:Shell xmlns:rsp="{RSP}">{parts}</rsp:Shell>'


def create_body(address: str, resource_uri: str, info: dict) -> str:
    return (
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{escape(resource_uri)}</w:ResourceURI><w:SelectorSet>"
        f'<w:Selector Name="ShellId">{escape(info["ShellId"])}</w:Selector></w:SelectorSet>'
        f"</a:ReferenceParameters></x:ResourceCreated>{shell_xml(info)}"
    )


def command_body(command_id: str) -> str:
    return f"<rsp:CommandResponse><rsp:CommandId>{escape(command_id)}</rsp:CommandId></rsp:CommandResponse>"


def receive_body(streams: list[str], command_id: str | None, done: bool) -> str:
    """`streams` are base64 texts, one PSRP fragment each, as WinRM sends them."""
    attr = f" CommandId={quoteattr(command_id)}" if command_id else ""
    parts = [f'<rsp:Stream Name="stdout"{attr}>{s}</rsp:Stream>' for s in streams]
    if done:
        parts.append(f'<rsp:CommandState{attr} State="{DONE}"><rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState>')
    return "<rsp:ReceiveResponse>" + "".join(parts) + "</rsp:ReceiveResponse>"


# size of a ReceiveResponse without its streams, and of one stream's tags, for MaxEnvelopeSize
RECEIVE_OVERHEAD = len(envelope(RESPONSE_ACTIONS["Receive"], "uuid:" + "0" * 36, receive_body([], "0" * 36, True)))
STREAM_OVERHEAD = len(receive_body(["x"], "0" * 36, False)) - len(receive_body([], None, False))


def config_body(max_envelope_kb: int, max_timeout_ms: int) -> str:
    return (
        '<cfg:Config xmlns:cfg="http://schemas.microsoft.com/wbem/wsman/1/config">'
        f"<cfg:MaxEnvelopeSizekb>{max_envelope_kb}</cfg:MaxEnvelopeSizekb>"
        f"<cfg:MaxTimeoutms>{max_timeout_ms}</cfg:MaxTimeoutms><cfg:MaxBatchItems>32000</cfg:MaxBatchItems>"
        "</cfg:Config>"
    )
