"""Watchlists, sanctions screening, vessel risk, alerts and the vessel dossier.

Modules: :mod:`~seasight.risk.watchlists` (loading lists), :mod:`~seasight.risk.screening`
(matching identities against them), :mod:`~seasight.risk.score` (risk factors and scores),
:mod:`~seasight.risk.alerts` (declarative rules and the alert lifecycle),
:mod:`~seasight.risk.dossier` (everything known about one vessel).
"""
