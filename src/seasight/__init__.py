"""SeaSight: open Maritime Domain Awareness.

Decode AIS into columns, store it, build tracks, detect events, screen and share. Every stage is
a Python function over Polars frames; the ``seasight`` command and the service wrap them.
"""

__version__ = "0.1.0"
