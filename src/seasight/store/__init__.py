"""The embedded database (DuckDB): schema, transactional deduplicating appends, checkpoints."""

from seasight.store.database import (
    DEFAULT_DB,
    Appender,
    Checkpoint,
    RepeatFilter,
    Store,
    events_where,
)

__all__ = ["DEFAULT_DB", "Appender", "Checkpoint", "RepeatFilter", "Store", "events_where"]
