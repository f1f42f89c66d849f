"""Show the package's code inside the book, so the text and the code it explains never drift apart."""

from __future__ import annotations

import inspect

from IPython.display import Code


def show(obj) -> Code:
    """Syntax-highlighted source of a function or class from ``vaebook``, for a notebook cell's output."""
    return Code(inspect.getsource(obj), language="python")
