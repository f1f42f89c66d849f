"""Run one exercise cell alone and check it: the grader starts this in a fresh process.

Reads ``{"id", "code", "seed"}`` as JSON on stdin; prints the checks as one JSON line on
stdout, after a line ``VAEBOOK-RESULT``. The forbidden functions are tripwires while the
cell and the student's function run.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

RESULT_LINE = "VAEBOOK-RESULT"


def _forbidden(name: str) -> list[tuple[str, bool, str]]:
    return [("forbidden call", False,
             f"calls {name}, which this exercise asks you to write yourself")]


def run(exercise_id: str, code: str, seed: int) -> list[tuple[str, bool, str]]:
    """Execute the cell's code, then the registry's checks on the object it defines."""
    from vaebook.exercises import registry, tripwire

    registry._load_chapters()
    exercise = registry.EXERCISES[exercise_id]
    tripwire.install(exercise.forbidden)
    namespace: dict = {"__name__": "__main__"}
    try:
        with tripwire.armed(), contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, f"<exercise {exercise_id}>", "exec"), namespace)
    except NotImplementedError:
        return [("not written yet", False, "the cell raises NotImplementedError")]
    except Exception as error:
        if tripwire.TRIPPED:
            return _forbidden(tripwire.TRIPPED[0])
        return [("the cell runs", False, f"{type(error).__name__}: {error}".splitlines()[0])]
    if exercise.name not in namespace:
        return [(f"the cell defines {exercise.name}", False, f"no {exercise.name} is defined")]
    with contextlib.redirect_stdout(io.StringIO()):
        results = registry.run_checks(exercise_id, namespace[exercise.name], seed)
    if tripwire.TRIPPED:
        return _forbidden(tripwire.TRIPPED[0])
    return results


def main() -> int:
    request = json.load(sys.stdin)
    results = run(request["id"], request["code"], int(request["seed"]))
    print(RESULT_LINE)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
