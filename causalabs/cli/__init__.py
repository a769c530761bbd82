"""The ``causalabs`` command line: thin shells over the library.

* :mod:`~causalabs.cli.commands` -- the typer application, one function per command, and :func:`main`;
* :mod:`~causalabs.cli.verify` -- ``verify`` and ``report``: load, check, print, write JSON;
* :mod:`~causalabs.cli.search` -- ``search`` and ``scrub``.
"""

from causalabs.cli.commands import app, main

__all__ = ["app", "main"]
