"""vaebook: the code behind the open textbook on variational autoencoders.

Every notebook of the book imports its data, models, losses, training loop and
checks from here, so the text and the code have one source.
"""

__version__ = "0.1.0"

from vaebook.settings import (  # noqa: E402
    PROFILES,
    by_profile,
    check_version,
    get_device,
    hardware,
    profile,
    seed_everything,
)



def show(obj):
    """Syntax-highlighted source of a vaebook function or class (see :mod:`vaebook.display`)."""
    from vaebook.display import show as _show

    return _show(obj)


__all__ = [
    "show",
    "__version__",
    "PROFILES",
    "by_profile",
    "check_version",
    "get_device",
    "hardware",
    "profile",
    "seed_everything",
]
