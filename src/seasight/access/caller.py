"""Who is asking: :class:`Caller` (a user or key of an organisation, with roles) and, for
another organisation than the installation's own, the :class:`Policy` its view is computed
from. Every read of the service takes a caller (see :mod:`seasight.api.query`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from seasight.sharing import LOCAL, Grants
from seasight.sharing.origins import Owners


@dataclass(frozen=True)
class Policy:
    """What a non-local caller's view is computed from: the compiled agreements and who owns
    which data source (both read from the store when the caller authenticated)."""

    grants: Grants
    owners: Owners


@dataclass(frozen=True)
class Caller:
    """Who is asking: a user (or key) of an organisation with roles. Callers compare by
    (name, organisation, roles): two callers that compare equal see the same data."""

    name: str
    organisation: str
    roles: frozenset[str] = field(default_factory=frozenset)
    key_id: str | None = field(default=None, compare=False)
    policy: Policy | None = field(default=None, compare=False, repr=False)

    @classmethod
    def local(cls) -> Caller:
        """The operator of this installation: full access."""
        return cls("local", LOCAL, frozenset({"viewer", "analyst", "admin", "watch_officer"}))

    @property
    def sees_everything(self) -> bool:
        """True for the installation's own organisation."""
        return self.organisation == LOCAL


__all__ = ["Caller", "Policy"]
