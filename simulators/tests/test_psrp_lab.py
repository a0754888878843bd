"""The PSRP simulator as a member of the long-running lab (simulators.lab)."""

from __future__ import annotations

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from simulators.psrp.lab import PsrpLab


def test_endpoint_is_https_with_the_lab_ca_and_a_restart_keeps_password_and_state(pki, tmp_path):
    lab = PsrpLab(tmp_path / "psrp", pki, job_seconds=0.1).start()
    try:
        endpoint = lab.endpoints
        assert endpoint["ssl"] is True and endpoint["ca_path"] == str(pki.ca_path) and endpoint["auth"] == "basic"
        wsman = WSMan(endpoint["server"], port=endpoint["port"], ssl=True, auth="basic", encryption="auto",
                      username=endpoint["username"], password=endpoint["password"], cert_validation=endpoint["ca_path"])
        with wsman, RunspacePool(wsman) as pool:
            ps = PowerShell(pool)
            ps.add_script("# op: vmm.connect v1\nparam([string]$Server)\n").add_parameter("Server", "localhost")
            ps.invoke()
            assert not ps.had_errors
        vm = lab.vmm.list_vms(custom_name="Custom1", custom_value="7")[0]
        lab.vmm.update_vm(vm["id"], status="Saved")
        password = endpoint["password"]
    finally:
        lab.stop()

    again = PsrpLab(tmp_path / "psrp", pki).start()
    try:
        assert again.endpoints["password"] == password
        assert again.vmm.get_vm(vm["id"])["status"] == "Saved"
        assert (tmp_path / "psrp" / "credentials.json").stat().st_mode & 0o077 == 0
    finally:
        again.stop()
