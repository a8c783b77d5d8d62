"""SeaSight: open Maritime Domain Awareness.

Decode AIS into columns, store it, build tracks, detect events, screen and share. Every stage is
a Python function over Polars frames; the ``seasight`` command and the service wrap them.
"""

import os

# Numba's parallel kernels run on OpenMP threads. By default (an "active" wait policy) those
# threads keep spinning after each kernel, burning a core that DuckDB, Polars or the other
# pipeline thread needs: passive waiting makes decoding about 40% cheaper in CPU and no slower,
# and ingest faster (``python -m seasight.bench``). Set before libgomp is loaded; a value the
# user chose is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
