"""Measurements of full-profile runs, kept with the package so that every copy of the book can show them.

The full profile (the published schedules, meant for a GPU) takes longer than a reader waits for a
page, so a chapter run in that profile saves what it measured with :func:`save_record`; run in the
other profiles it shows its own numbers beside the saved ones, with the hardware, time and date
they came from (:func:`load_record`). A record is a small JSON file in ``vaebook/records/``.
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

RECORDS_DIR = Path(__file__).parent / "records"


class RecordError(ValueError):
    """A record file exists but cannot be used: not JSON, or not a record."""


def _path(name: str, directory: Path | str | None) -> Path:
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ValueError(f"a record name is letters, digits, '_' and '-', got {name!r}")
    return Path(directory if directory is not None else RECORDS_DIR) / f"{name}.json"


def _check_finite(value: Any, where: str) -> None:
    """Refuse NaN and infinity: JSON cannot hold them, and a table should not show them."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"record value {where} is {value}; only finite numbers are recorded")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_finite(item, f"{where}[{i}]")


def save_record(name: str, results: dict[str, Any], *, hardware: str, seconds: float,
                profile: str | None = None, directory: Path | str | None = None) -> Path:
    """Write ``results`` (JSON-able numbers) with where, when and how long they took; returns the file."""
    from vaebook import __version__
    from vaebook.settings import profile as current_profile

    _check_finite(results, "results")
    record = {
        "name": name,
        "profile": profile or current_profile(),
        "hardware": hardware,
        "seconds": round(float(seconds), 1),
        "date": datetime.date.today().isoformat(),
        "vaebook": __version__,
        "results": results,
    }
    path = _path(name, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_record(name: str, directory: Path | str | None = None) -> dict[str, Any] | None:
    """The saved record called ``name``, or None when no run has saved one."""
    path = _path(name, directory)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecordError(f"{path} is not a readable record ({error}); delete it, or run the chapter "
                          "in the full profile again to write it anew") from None
    missing = {"name", "profile", "hardware", "seconds", "date", "results"} - set(record if isinstance(record, dict) else ())
    if missing:
        raise RecordError(f"{path} is not a record: it lacks {', '.join(sorted(missing))}")
    return record


def duration(seconds: float) -> str:
    """A run's training time for a table: seconds under two minutes, then minutes (whole ones from ten on)."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    return f"{minutes:.1f} min" if minutes < 10 else f"{minutes:.0f} min"


def describe(record: dict[str, Any]) -> str:
    """One line for a table's 'where' column: profile, hardware, training time and date."""
    took = duration(record["seconds"])
    return f"profile `{record['profile']}`, {record['hardware']}, {took} of training, {record['date']}"
