#!/usr/bin/env bash
# Install mmpose 1.3.2 (HRNet / ViTPose top-down backends of labeling/) into a Python 3.11 venv.
#
#   bash scripts/install_mmpose.sh .venv          # into the toolkit's venv
#   bash scripts/install_mmpose.sh /tmp/mmvenv    # a fresh venv (created when missing), then
#   /tmp/mmvenv/bin/pip install -e '.[labeling,dev]'   # the toolkit itself (torch is kept)
#
# ultralytics (the person detector of every preset, and YOLO-pose) is installed too, so the
# venv runs the whole pipeline; it pins nothing that mmcv was compiled against (torch, numpy).
#
# Why it is not a plain `pip install mmpose`:
#   - mmcv 2.1.0 (full, with ops: mmpose imports mmcv.ops) has no wheel for torch 2.14; it is
#     compiled here from its sdist (about 16 minutes on 2 shared cores). Its setup.py asks for C++14/17,
#     which torch 2.14's headers refuse: the script rewrites the flag to C++20. The build needs
#     setuptools < 81 (pkg_resources) and ninja, and runs without build isolation against the
#     venv's torch.
#   - mmpose's `chumpy` dependency does not import on Python 3.11 and is never imported by
#     mmpose: mmpose, mmdet and mmpretrain are installed with --no-deps and their real runtime
#     dependencies are listed below.
#   - the xtcocotools wheel is built against an older numpy ABI: it is built from source.
# Environment: PYTHON (interpreter used to create the venv, default python3.11), MAX_JOBS
# (parallel compile jobs, default: number of cores), MMCV_BUILD_DIR (where mmcv is compiled,
# default ~/.cache/radar-sensing-toolkit/mmcv-build: an interrupted build resumes there, ninja
# skipping the objects already compiled; removed after a successful install).
set -euo pipefail

VENV=${1:?usage: install_mmpose.sh VENV}
PYTHON=${PYTHON:-python3.11}
MMCV_VERSION=2.1.0
export MAX_JOBS=${MAX_JOBS:-$(nproc)}

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
pip() { "$PY" -m pip "$@"; }

pip install -q --upgrade pip
pip install -q "setuptools<81" wheel ninja cython
"$PY" -c "import torch, torchvision" 2>/dev/null \
  || pip install -q torch==2.14.1 torchvision==0.29.1

# Runtime dependencies of mmengine, mmcv, mmdet, mmpretrain and mmpose (without chumpy).
pip install -q numpy scipy matplotlib opencv-python pillow pyyaml addict rich termcolor yapf \
  packaging json_tricks munkres pycocotools shapely six terminaltables tqdm einops \
  importlib-metadata mat4py modelindex
pip install -q mmengine==0.10.7
pip install -q --no-build-isolation --no-binary xtcocotools xtcocotools

if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
  WORK=${MMCV_BUILD_DIR:-$HOME/.cache/radar-sensing-toolkit/mmcv-build}
  mkdir -p "$WORK"
  if [ ! -f "$WORK/mmcv-$MMCV_VERSION/setup.py" ]; then
    pip download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" \
      -d "$WORK"
    tar -xzf "$WORK/mmcv-$MMCV_VERSION.tar.gz" -C "$WORK"
    sed -i -E 's/-std=c\+\+1[47]/-std=c++20/g' "$WORK/mmcv-$MMCV_VERSION/setup.py"
  fi
  # pip builds in the source tree (build/), so a re-run reuses the objects already compiled.
  (cd "$WORK/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 FORCE_CUDA=${FORCE_CUDA:-0} \
    "$PY" -m pip install -q --no-build-isolation --no-deps .)
  rm -rf "$WORK"
fi

pip install -q --no-deps mmdet==3.3.0 mmpretrain==1.2.0 mmpose==1.3.2
pip install -q "ultralytics>=8.3,<9"

"$PY" - <<'EOF'
import mmcv, mmcv.ops, mmdet, mmengine, mmpose, mmpretrain, torch, ultralytics  # noqa: F401
print(f"install_mmpose: mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, "
      f"mmdet {mmdet.__version__}, mmpretrain {mmpretrain.__version__}, mmpose {mmpose.__version__}, "
      f"ultralytics {ultralytics.__version__}, torch {torch.__version__}")
EOF
