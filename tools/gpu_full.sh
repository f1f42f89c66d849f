#!/usr/bin/env bash
# Run chapters in the full profile on an offline GPU machine, in a copy of the repository with the .gpu/
# folder that tools/gpu_bundle.sh made in it:
#
#   bash tools/gpu_full.sh OUT_DIR [NOTEBOOK ...]     (default: chapter 9)
#
# Installs the wheels into a private folder (nothing on the machine changes), runs tools/run_full.py
# with the data in .gpu/data and VAEBOOK_CHECKPOINTS=OUT_DIR/checkpoints (seeded from .gpu/checkpoints),
# and leaves in OUT_DIR the executed notebooks, the records they wrote (also one written before a time
# limit cut its notebook off) and the trained models: finished ones, and the unfinished one saved after
# its last epoch (with an unfinished importance-weighted estimate, saved after its last batch). Run again
# with those in .gpu/checkpoints and finished models load, the unfinished ones go on from where they
# stopped. TIME_LIMIT=540 stops the notebooks after 540 s, so that the script itself can still copy the
# models back into .gpu/checkpoints (a rerun on the same machine then needs nothing carried) before a
# caller's own limit kills it.
# PROFILE=smoke rehearses the whole thing in a minute; GPU_DIR names another bundle folder.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: bash tools/gpu_full.sh OUT_DIR [NOTEBOOK ...]}
shift
[ $# -gt 0 ] || set -- "$ROOT/notebooks/09_evaluating_vaes.ipynb"
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd)
notebooks=()
for nb in "$@"; do notebooks+=("$(realpath "$nb")") || exit 1; done
cd "$ROOT"
BUNDLE=${GPU_DIR:-.gpu}        # what tools/gpu_bundle.sh made (relative to the repository root)
SITE=${SITE:-/tmp/vaebook-site}

if compgen -G "$BUNDLE/wheels/*.whl" > /dev/null; then
    python3 -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
        "$BUNDLE"/wheels/*.whl || { echo "gpu_full: installing $BUNDLE/wheels failed" >&2; exit 1; }
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
else
    python3 -c "import nbclient, ipykernel" 2> /dev/null || {
        echo "gpu_full: no wheels in $BUNDLE/wheels and python3 has no nbclient/ipykernel; run tools/gpu_bundle.sh first" >&2
        exit 1; }
    echo "gpu_full: no wheels in $BUNDLE/wheels; using the Jupyter that python3 has"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 VAEBOOK_CHECKPOINTS="$OUT/checkpoints"
[ -d "$BUNDLE/data" ] && export VAEBOOK_DATA="$(cd "$BUNDLE/data" && pwd)"
mkdir -p "$VAEBOOK_CHECKPOINTS"
cp "$BUNDLE"/checkpoints/*.pt "$VAEBOOK_CHECKPOINTS/" 2>/dev/null || true
python3 -c "import torch, vaebook; print(f'vaebook {vaebook.__version__} from {vaebook.__file__}; torch {torch.__version__};',
                                          vaebook.hardware(vaebook.get_device()))" || exit 1

limit=()
[ -n "${TIME_LIMIT:-}" ] && limit=(timeout --kill-after=30 "$TIME_LIMIT")
started=$(mktemp)                                   # records newer than this were written by this run
${limit[@]+"${limit[@]}"} python3 tools/run_full.py --profile "${PROFILE:-full}" --out "$OUT" "${notebooks[@]}"   # copies its records to OUT
status=$?
sleep 2                                             # a kernel cut off with its notebook exits within a second
# run_full.py copies the records (and their PNGs of samples) when its notebooks end; a record a
# notebook wrote before TIME_LIMIT cut it off (chapter 9 saves its MNIST table long before it ends)
# comes back all the same
find src/vaebook/records -maxdepth 1 \( -name '*.json' -o -name '*.png' \) -newer "$started" -exec cp -p {} "$OUT/" \;
rm -f "$started"
rm -f "$VAEBOOK_CHECKPOINTS"/*.tmp
mkdir -p "$BUNDLE/checkpoints" && rm -f "$BUNDLE"/checkpoints/*.pt
cp "$VAEBOOK_CHECKPOINTS"/*.pt "$BUNDLE/checkpoints/" 2>/dev/null || true
ls -l "$OUT" "$VAEBOOK_CHECKPOINTS"
if [ $status -eq 124 ] || [ $status -eq 137 ]; then
    echo "gpu_full: stopped after TIME_LIMIT=$TIME_LIMIT s. The models trained so far are in $VAEBOOK_CHECKPOINTS and" \
         "$BUNDLE/checkpoints; run the same command again to go on from there." >&2
fi
exit $status
