#!/usr/bin/env bash
# Train both networks on a lent GPU, side by side, from the shipped weights, within one device call.
#
# Here first (CPU, once; carry/ is ignored by git):
#   python -m export.data pack --data ../shared/data --fonts ../shared/fonts --out carry/pack
#   python -m export.from_onnx --recognizer models --data ../shared/data --fonts ../shared/fonts --out carry/shipped_recognizer.pt
#   python -m export.from_onnx --detector models --data ../shared/data --out carry/shipped_detector.pt
# Then one device call: command `bash export/gpu_train.sh`, carry ["carry"], timeout_s 600.
# $OUT (the device tool's folder of files that come back) receives each run's last.pt, which
# resumes or exports here like any checkpoint, and its log. The recognizer's plate head must then be
# trained on its new encoder (here, about 17 minutes on 2 cores), and that checkpoint exported:
#   python -m export.train_plate_check --data ../shared/data --fonts ../shared/fonts --init RECOGNIZER_LAST \
#       --out runs/plate_check --steps 3000
#   cp -r models /tmp/candidate && python -m export.to_onnx --detector DETECTOR_LAST \
#       --recognizer runs/plate_check/last.pt --data ../shared/data --fonts ../shared/fonts --out /tmp/candidate
#   bash bench/figures.sh /tmp/candidate dev    (choose on dev; val once, as README says)
#
# The device gives 15 minutes in all, the machine's start included, and 10 per command: the two runs
# train for MINUTES, then checkpoint and stop (--minutes), and the rest of the command copies files.
# Data is rendered by CPU workers (16 cores there: one main process and DETECTOR_WORKERS /
# RECOGNIZER_WORKERS renderers each). One core here renders about 1.8 detector batches (24 crops)
# and 8 recognizer batches (64 crops) a second (`OMP_NUM_THREADS=1 python bench/bench_data.py
# --batches 12`, session 19), so the detector is bound by its renderers, about 15 steps/s with 9,
# and the recognizer by the GPU's steps. The step counts are what MINUTES allows at those rates;
# a run cut short by the clock has not finished its learning-rate schedule, which its log shows
# (its last step under --steps).
set -euo pipefail
MINUTES=${MINUTES:-6.5}
OUT=${OUT:-runs/gpu_out}
PACK=${PACK:-carry/pack}
RUNS=${RUNS:-runs/gpu}
PY=${PY:-python3}
mkdir -p "$OUT" "$RUNS"
# A lent machine whose torch cannot reach its GPU would spend the minutes training on the CPU: stop.
"$PY" -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
torch.cuda.get_device_name(0) if torch.cuda.is_available() else ''); sys.exit(0 if torch.cuda.is_available() \
or '${ALLOW_CPU:-}' else 1)"
common=(--data "$PACK/data" --fonts "$PACK/fonts" --threads 1 --minutes "$MINUTES")
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1

"$PY" -m export.train_detector "${common[@]}" --out "$RUNS/detector" --init carry/shipped_detector.pt \
    --steps "${DETECTOR_STEPS:-5000}" --lr "${DETECTOR_LR:-1e-3}" --every 1000 \
    --workers "${DETECTOR_WORKERS:-9}" > "$OUT/detector.log" 2>&1 &
detector=$!
"$PY" -m export.train_recognizer "${common[@]}" --out "$RUNS/recognizer" --init carry/shipped_recognizer.pt \
    --steps "${RECOGNIZER_STEPS:-12000}" --lr "${RECOGNIZER_LR:-5e-4}" --every 3000 \
    --workers "${RECOGNIZER_WORKERS:-5}" > "$OUT/recognizer.log" 2>&1 &
recognizer=$!
status=0
wait $detector || status=$?
wait $recognizer || status=$?

for run in detector recognizer; do
    if [ -f "$RUNS/$run/last.pt" ]; then cp "$RUNS/$run/last.pt" "$OUT/${run}_last.pt"; fi
    echo "== $run, its last validation:"
    grep '"validate"' "$RUNS/$run/log.jsonl" 2>/dev/null | tail -1 | cut -c1-600 || true
done
exit $status
