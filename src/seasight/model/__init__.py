"""The data model every stage shares, at the bottom of the import order.

- :mod:`seasight.model.schema`: the column schemas of every table (units in the names).
- :mod:`seasight.model.batch`: :class:`~seasight.model.batch.Batch`, one frame per decoded
  table plus the counts a user sees: the unit of work between decode, ingest and store.
- :mod:`seasight.model.rejects`: the one table of reasons why input is rejected.
- :mod:`seasight.model.csv_cells`: CSV cells made safe for spreadsheets (every CSV writer).

Nothing here imports another SeaSight package.
"""
