"""The embedded database (DuckDB): schema, transactional deduplicating appends, checkpoints."""

from seasight.store.database import DEFAULT_DB, Checkpoint, Store, events_where

__all__ = ["DEFAULT_DB", "Checkpoint", "Store", "events_where"]
