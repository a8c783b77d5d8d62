"""Sharing between organisations: data ownership, agreements and THE policy function.

* :mod:`~seasight.sharing.origins`: which organisation owns which data source
  (``seasight source assign``), ``origin`` / ``origins`` columns for rows.
* :mod:`~seasight.sharing.agreements`: agreements granting data classes to another
  organisation, with limits (``seasight agreement ...``).
* :mod:`~seasight.sharing.policy`: :func:`permitted`, the pure decision applied to every frame
  that leaves the system.
"""

from seasight.sharing.agreements import (
    CLASSES,
    Agreement,
    AgreementError,
    agreements_version,
    create_agreement,
    get_agreement,
    list_agreements,
    make_agreement,
    revoke_agreement,
    update_agreement,
)
from seasight.sharing.origins import (
    LOCAL,
    assign_source,
    attach_origin,
    event_origins,
    list_sources,
    owners,
    unassign_source,
)
from seasight.sharing.policy import (
    KIND_CLASS,
    REQUIRED_COLUMNS,
    Grants,
    PolicyError,
    compile_grants,
    permitted,
)
from seasight.store import Store


def load_grants(store: Store) -> Grants:
    """Every stored agreement compiled, stamped with the current :func:`agreements_version`
    (recompile when the version changes)."""
    version = agreements_version(store)
    return compile_grants(list_agreements(store), version)


__all__ = [
    "CLASSES",
    "KIND_CLASS",
    "LOCAL",
    "REQUIRED_COLUMNS",
    "Agreement",
    "AgreementError",
    "Grants",
    "PolicyError",
    "agreements_version",
    "assign_source",
    "attach_origin",
    "compile_grants",
    "create_agreement",
    "event_origins",
    "get_agreement",
    "list_agreements",
    "list_sources",
    "load_grants",
    "make_agreement",
    "owners",
    "permitted",
    "revoke_agreement",
    "unassign_source",
    "update_agreement",
]
