"""Benchmarks: SeaSight's AIS decoder and ingest against pyais, on a realistic synthetic feed.

``python -m seasight.bench`` (or ``make bench``) builds or reuses a cached corpus
(:func:`seasight.bench.corpus.build_corpus`: a day of a regional AIS network, a million NMEA
lines by default, with tag blocks, multi-sentence messages, duplicate receptions and bad lines),
then times on the same bytes:

* pyais decoding every message to message objects (its fastest correct streaming API),
* :func:`seasight.ais.decode_nmea`,
* DuckDB alone writing the rows ingest stores, decoded and deduplicated beforehand (a
  reference: the ceiling of any ingest through DuckDB),
* :func:`seasight.ingest.pipeline.ingest_paths` into a fresh DuckDB file,

and prints messages per second, the speed-up over pyais against SeaSight's targets (decode at
least 25x, ingest at least 12x) and the peak memory of an ingest-only subprocess (with
``--memory-check`` also for a ten times larger corpus, to show memory stays bounded).
``python -m seasight.bench --help`` lists the options.
"""

from seasight.bench.corpus import CorpusInfo, build_corpus

__all__ = ["CorpusInfo", "build_corpus"]
