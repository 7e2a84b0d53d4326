"""One module per Azure service; each activity adapts its input to the SDK and answers a result (`_results`).

The decision modules the activities use, for `from activities import adoption, c, ...`: stand-ins that import
them when an activity first runs, not when the app is indexed (cold start, `provisioning.lazy_import`).
"""

from typing import TYPE_CHECKING

from provisioning import lazy_import

if TYPE_CHECKING:
    from provisioning import adoption, deletion, errors, naming, ownership, permissions, preflight
    from provisioning import contracts as c
else:
    adoption = lazy_import.module("provisioning.adoption")
    c = lazy_import.module("provisioning.contracts")
    deletion = lazy_import.module("provisioning.deletion")
    errors = lazy_import.module("provisioning.errors")
    naming = lazy_import.module("provisioning.naming")
    ownership = lazy_import.module("provisioning.ownership")
    permissions = lazy_import.module("provisioning.permissions")
    preflight = lazy_import.module("provisioning.preflight")
