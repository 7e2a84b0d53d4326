"""The Functions app: one DFApp object that registers each concern's blueprint.

Nothing here decides anything; see docs/DESIGN.md for where each piece lives.
"""

import azure.durable_functions as df
import azure.functions as func

from activities import (
    authorization,
    containerregistry,
    containerservice,
    msi,
    network,
    privatedns,
    resources,
)
from api import openapi, plans, setups, status, teardowns
from orchestrators import chains, cluster_watch, setup_orchestrator, teardown_orchestrator

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

app.register_functions(setups.bp)
app.register_functions(openapi.bp)
app.register_functions(status.bp)
app.register_functions(plans.bp)
app.register_functions(teardowns.bp)
app.register_functions(setup_orchestrator.bp)
app.register_functions(chains.bp)
app.register_functions(cluster_watch.bp)
app.register_functions(teardown_orchestrator.bp)
ACTIVITY_MODULES = (resources, msi, authorization, network, containerservice, containerregistry, privatedns)
for activity_module in ACTIVITY_MODULES:
    app.register_functions(activity_module.bp)
