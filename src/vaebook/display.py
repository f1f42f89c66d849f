"""Show the package's code inside the book, so the text and the code it explains never drift apart."""

from __future__ import annotations

import inspect

from IPython.display import Code


def show(obj) -> Code:
    """Syntax-highlighted source of a function or class from ``vaebook``, for a notebook cell's output."""
    return Code(inspect.getsource(obj), language="python")


def markdown_table(rows: list[dict], digits: int = 2):
    """A Markdown table from a list of dicts (one per row), so tables in the book are built from computed numbers."""
    from IPython.display import Markdown

    if not rows:
        raise ValueError("a table needs at least one row")
    headers = list(rows[0])

    def cell(value) -> str:
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(row.get(h, "")) for h in headers) + " |" for row in rows]
    return Markdown("\n".join(lines))
