"""digest: a daily newsletter digest from RSS, Atom and JSON feeds.

The library API is :func:`digest.pipeline.build_digest`; the ``digest`` command is a thin
click wrapper around it (see :mod:`digest.cli`).
"""

__version__ = "0.1.0"
