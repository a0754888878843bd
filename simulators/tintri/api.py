"""The route table: every implemented v310 call, its handler and which personality serves it."""

from __future__ import annotations

from .api_snapshots import (snapshot_create, snapshot_delete, snapshot_delete_filtered, snapshot_disks,
                            snapshot_get, snapshot_list)
from .api_system import (appliance_dns, appliance_get, appliance_info, appliance_ips, appliance_list,
                         appliance_maintenance, datastore_get, datastore_list, datastore_stats_realtime,
                         datastore_stats_summary, host_resources, info, login, logout, session_active,
                         session_current)
from .api_tasks import task_cancel, task_get, task_list
from .api_tgc import pool_get, pool_list, reco_action, reco_get, reco_history, vmstore_list
from .api_vms import virtual_disk_list, vm_clone, vm_get, vm_list, vm_sync
from .routing import Route

V = "VMstoreOnly"
G = "TgcOnly"
ROUTES = [
    Route("GET", "/info", info, auth=False),
    Route("POST", "/v310/session/login", login, auth=False),
    Route("GET", "/v310/session/logout", logout, auth=False),
    Route("POST", "/v310/session/logout", logout, auth=False),
    Route("GET", "/v310/session/current", session_current),
    Route("GET", "/v310/session/active", session_active),
    Route("GET", "/v310/appliance", appliance_list),
    Route("GET", "/v310/appliance/{uuid}", appliance_get),
    Route("GET", "/v310/appliance/{uuid}/info", appliance_info),
    Route("GET", "/v310/appliance/{uuid}/ips", appliance_ips),
    Route("GET", "/v310/appliance/{uuid}/dns", appliance_dns),
    Route("GET", "/v310/appliance/{uuid}/maintenanceMode", appliance_maintenance, V),
    Route("GET", "/v310/datastore", datastore_list),
    Route("GET", "/v310/datastore/{uuid}", datastore_get),
    Route("GET", "/v310/datastore/{uuid}/statsSummary", datastore_stats_summary),
    Route("GET", "/v310/datastore/{uuid}/statsRealtime", datastore_stats_realtime),
    Route("GET", "/v310/datastore/{uuid}/hostResources", host_resources, V),
    Route("GET", "/v310/vm", vm_list),
    Route("POST", "/v310/vm", vm_clone, write=True),
    Route("GET", "/v310/vm/{vmId}", vm_get),
    Route("POST", "/v310/vm/sync", vm_sync, V, write=True),
    Route("GET", "/v310/virtualDisk", virtual_disk_list, V),
    Route("GET", "/v310/snapshot", snapshot_list),
    Route("POST", "/v310/snapshot", snapshot_create, V, write=True),
    Route("DELETE", "/v310/snapshot", snapshot_delete_filtered, V, write=True),
    Route("GET", "/v310/snapshot/{id}", snapshot_get, V),
    Route("DELETE", "/v310/snapshot/{id}", snapshot_delete, V, write=True),
    Route("GET", "/v310/snapshot/{id}/disks", snapshot_disks, V),
    Route("GET", "/v310/task", task_list),
    Route("GET", "/v310/task/{id}", task_get),
    Route("DELETE", "/v310/task/{id}", task_cancel, write=True),
    Route("GET", "/v310/vmstore", vmstore_list, G),
    Route("GET", "/v310/vmstorePool", pool_list, G),
    Route("GET", "/v310/vmstorePool/{poolUuid}", pool_get, G),
    Route("GET", "/v310/vmstorePool/{poolUuid}/recommendation/current", reco_get, G),
    Route("GET", "/v310/vmstorePool/{poolUuid}/recommendation/{recoUuid}", reco_get, G),
    Route("GET", "/v310/vmstorePool/{poolUuid}/recommendationHistory", reco_history, G),
] + [
    Route("POST", f"/v310/vmstorePool/{{poolUuid}}/recommendation/{{recoUuid}}/{a}", reco_action(a), G, write=True)
    for a in ("accept", "acknowledge", "cancel", "reset")
]
