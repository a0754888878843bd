"""REST handlers: TGC VMstores, VMstore pools and recommendations."""

from __future__ import annotations

import time

from . import recommendations
from .query import page
from .routing import Reply

# --- TGC -----------------------------------------------------------------------------------

def vmstore_list(ctx):
    with ctx.lab.lock:
        return Reply(200, [recommendations.vmstore_dto(ctx.lab, ctx.app, m) for m in ctx.lab.members(ctx.app)])


def pool_list(ctx):
    started = time.time()
    with ctx.lab.lock:
        pools = list(ctx.app.state["pools"].values())
        name = ctx.query.get("name")
        if name:
            pools = [p for p in pools if name.lower() in p["name"].lower()]
        return Reply(200, page(ctx.query, pools, lambda p: recommendations.pool_dto(ctx.lab, ctx.app, p),
                               len(ctx.app.state["pools"]), len(ctx.app.state["pools"]), started))


def pool_get(ctx):
    with ctx.lab.lock:
        pool = recommendations.pool_or_404(ctx.app, ctx.params["poolUuid"])
        return Reply(200, recommendations.pool_dto(ctx.lab, ctx.app, pool))


def reco_get(ctx):
    with ctx.lab.lock:
        pool = recommendations.pool_or_404(ctx.app, ctx.params["poolUuid"])
        reco = recommendations.reco_or_404(ctx.app, pool, ctx.params.get("recoUuid", "current"))
        return Reply(200, recommendations.reco_dto(ctx.lab, reco))


def reco_history(ctx):
    with ctx.lab.lock:
        pool = recommendations.pool_or_404(ctx.app, ctx.params["poolUuid"])
        recos = [ctx.app.state["recommendations"][r] for r in pool["history"]]
        recos.sort(key=lambda r: r["creationTime"], reverse=True)
        return Reply(200, [recommendations.reco_dto(ctx.lab, r) for r in recos])


def reco_action(action):
    def handler(ctx):
        ctx.body()  # null, empty or any JSON body is accepted and ignored
        with ctx.lab.lock:
            pool = recommendations.pool_or_404(ctx.app, ctx.params["poolUuid"])
            reco = recommendations.reco_or_404(ctx.app, pool, ctx.params["recoUuid"])
            recommendations.transition(ctx.lab, ctx.app, reco, action)
        return Reply(204, empty=True)
    return handler


