"""The lake: a partitioned Parquet dataset (day x MMSI bucket) behind fsspec.

:class:`Lake` writes and reads it, :func:`ingest_lake` decodes files into it and
:func:`export_lake` copies a database into it; :mod:`seasight.distributed` detects over it.
"""

from seasight.lake.dataset import DEFAULT_BUCKETS, LAKE_TABLES, Lake, Partition, bucket_of
from seasight.lake.export import export_lake
from seasight.lake.ingest import ingest_lake

__all__ = ["DEFAULT_BUCKETS", "LAKE_TABLES", "Lake", "Partition", "bucket_of", "export_lake",
           "ingest_lake"]
