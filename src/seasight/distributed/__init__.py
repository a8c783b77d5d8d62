"""Detection on a distributed engine (Dask) over a lake, with the single-process events.

:func:`detect_lake` schedules the stage functions per partition (see
:mod:`seasight.distributed.engine`); :func:`make_client` starts a LocalCluster or attaches to
a running scheduler.
"""

from __future__ import annotations

from typing import Any

from seasight.distributed.engine import EngineParams, LakeDetection, detect_lake

__all__ = ["WORKER_ENVIRON", "EngineParams", "LakeDetection", "detect_lake", "make_client"]


def make_client(scheduler: str | None = None, workers: int = 2, *, processes: bool = True,
                memory_limit: str | None = None) -> Any:
    """A Dask ``Client``: attached to ``scheduler`` (an address such as
    ``tcp://10.0.0.5:8786``) when given, else on a new ``LocalCluster`` of ``workers``
    single-threaded workers (processes, or threads with ``processes=False``)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the Dask engine needs the 'distributed' extra: pip install 'seasight[distributed]'"
        ) from exc
    if scheduler:
        return Client(scheduler)
    if workers < 1:
        raise ValueError("workers must be at least 1")
    kwargs: dict[str, Any] = {"n_workers": workers, "threads_per_worker": 1,
                              "processes": processes, "dashboard_address": None}
    if memory_limit is not None:
        kwargs["memory_limit"] = memory_limit
    if not processes:
        return Client(LocalCluster(**kwargs))
    import dask

    # one core per worker: Polars' and numba's own thread pools would otherwise each take
    # every core of the machine, and the workers would fight over them
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ.update(WORKER_ENVIRON)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return Client(LocalCluster(**kwargs))


#: Environment of local worker processes (set before they start).
WORKER_ENVIRON = {"POLARS_MAX_THREADS": "1", "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
