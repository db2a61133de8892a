#!/usr/bin/env bash
# The default suite of ablation.py on a GPU, its runs in parallel: the recipe against each of its
# changes taken back alone. The 400-step tiny CLIP of two arms is pretrained once, first, so that
# the parallel runs find it cached instead of each training it.
# Usage: bash examples/stylegan_t/gpu_sweep.sh OUT_DIR [STEPS]
set -u
OUT=${1:?output folder}; STEPS=${2:-1200}
export GANBLOCKS_CACHE=$OUT/cache PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
python3 examples/stylegan_t/pretrain.py --steps 400 | tail -12
timeout ${SWEEP_TIMEOUT:-330} python3 examples/stylegan_t/ablation.py --suite default --steps "$STEPS" --seeds 0 \
  --jobs 8 --threads 2 --eval-every 300 --eval-samples 128 --out "$OUT/default" -- --device cuda --precision fp32
