"""The PSRP simulator as a lab member (simulators.lab): the default VMM + SCOM lab (and, given the
ConfigMgr simulator's site, the ConfigurationManager module's operations) behind one HTTPS WS-Man
endpoint with the lab certificate and Basic authentication.

State (``vmm.json``, ``scom.json``) and the endpoint's generated password (``credentials.json``)
live in the lab member's directory, so a restarted lab keeps both.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from . import handlers, scom_model, vmm_model
from .dispatch import Dispatcher
from .server import PsrpServer


class PsrpLab:
    def __init__(self, state_dir, pki, description=None, job_seconds: float | None = None, site_model=None):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        description = vmm_model.load_description(description)
        seconds = {kind: job_seconds for kind in vmm_model.DEFAULT_JOB_SECONDS} if job_seconds else None
        self.vmm = vmm_model.VmmModel(self.state_dir, description, job_seconds=seconds)
        self.scom = scom_model.ScomModel(self.state_dir, description)
        dispatcher = Dispatcher()
        handlers.register_all(dispatcher, self.vmm, self.scom, site_model)
        self.pki = pki
        self.server = PsrpServer(password=self._password(), dispatcher=dispatcher, pki=pki)

    def _password(self) -> str:
        path = self.state_dir / "credentials.json"
        if path.exists():
            return json.loads(path.read_text())["password"]
        password = secrets.token_urlsafe(16)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"password": password}, handle)
        return password

    def start(self) -> PsrpLab:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def endpoints(self) -> dict:
        """The PSRP connection options of the collection's vmm and scom modules, as one dict."""
        return {"server": "localhost", "port": self.server.port, "ssl": True, "auth": "basic", "encryption": "auto",
                "username": self.server.username, "password": self.server.password, "ca_path": str(self.pki.ca_path)}


def lab_server(state_dir, pki, job_seconds: float | None = None, site_model=None) -> PsrpLab:
    """Started; ``site_model`` (a ConfigMgr simulator's SiteModel) serves the ConfigurationManager operations."""
    return PsrpLab(state_dir, pki, job_seconds=job_seconds, site_model=site_model).start()
