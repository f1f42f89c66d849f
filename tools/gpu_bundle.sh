#!/usr/bin/env bash
# Pack into .gpu/ what an offline GPU machine needs to run chapters in the full profile: the wheels
# of tools/gpu_wheels.txt (built for its Python, 3.12 unless PY_VERSION says otherwise) and the MNIST
# and Fashion-MNIST files. Copy the repository with .gpu/ to that machine and run tools/gpu_full.sh.
#
#   tools/gpu_bundle.sh [DATA_DIR]    DATA_DIR holds MNIST/raw/*.gz and FashionMNIST/raw/*.gz
#                                     (default: $VAEBOOK_DATA, else ../shared/data)
# Checkpoints that an earlier, interrupted run sent back go in .gpu/checkpoints/ (kept by this script).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-${VAEBOOK_DATA:-../shared/data}}
PYTHON=${PYTHON:-python3}
PY_VERSION=${PY_VERSION:-3.12}

for set in MNIST FashionMNIST; do
    [ -d "$DATA/$set/raw" ] || { echo "gpu_bundle: no $DATA/$set/raw (set VAEBOOK_DATA or pass DATA_DIR)" >&2; exit 1; }
done
rm -rf .gpu/wheels .gpu/data
mkdir -p .gpu/wheels .gpu/checkpoints
for set in MNIST FashionMNIST; do
    mkdir -p ".gpu/data/$set/raw"
    cp "$DATA/$set/raw/"*.gz ".gpu/data/$set/raw/"
done
platforms=""
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_26_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms="$platforms --platform $p"
done
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PY_VERSION" \
    --implementation cp $platforms -d .gpu/wheels -r tools/gpu_wheels.txt
echo "gpu_bundle: $(ls .gpu/wheels | wc -l) wheels for Python $PY_VERSION, data from $DATA, $(ls .gpu/checkpoints | wc -l) checkpoints; $(du -sh .gpu | cut -f1) in .gpu/"
