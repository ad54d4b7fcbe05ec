#!/usr/bin/env bash
# Every accuracy figure the README reports, for one models folder, on the dev or the validation sets.
#
#   bash bench/figures.sh models val          # the reported figures (measure once per change)
#   bash bench/figures.sh /tmp/models dev     # a candidate on dev sets, to choose by
#
# dev: the train splits (scenes-ro train videos, br-plate-crops train texts, backgrounds-gray images
# 0-599, street frames of the train videos) and fresh render seeds no figure is reported on; val: the
# validation splits and the seeds the README reports. DATA and FONTS default to ../shared. Two to four
# minutes on 2 cores (session 19: val 1 min 45 s, dev 3 min 22 s). Speed is bench/bench_runtime.py's.
set -euo pipefail
MODELS=${1:?models folder}
SET=${2:?dev or val}
DATA=${DATA:-../shared/data}
FONTS=${FONTS:-../shared/fonts}
PY=${PY:-python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
case $SET in
    val) split=val; rounds=3; recognizer_seed=(); detector_seed=777; rendered=(7 99) ;;
    dev) split=train; rounds=1; recognizer_seed=(--seed 31337); detector_seed=4242; rendered=(11 23) ;;
    *) echo "SET must be dev or val" >&2; exit 2 ;;
esac
report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT
# The validators also score the real validation sets; on dev those are left out of what is printed.
hide=$([ "$SET" = dev ] && echo real_val || echo none)
one_line="import json, sys
def drop(d): return {k: drop(v) if isinstance(v, dict) else v for k, v in d.items() if k != '$hide'}
[print('  ', k, json.dumps(v)) for k, v in drop(json.load(sys.stdin)).items() if isinstance(v, dict)]"

echo "== recognizer alone: real $split crops, synthetic (all draws, readable draws)"
"$PY" -m export.validate_recognizer --runtime "$MODELS" --data "$DATA" --fonts "$FONTS" "${recognizer_seed[@]}" \
    | "$PY" -c "$one_line"
echo "== detector, synthetic 1280x720 scenes, seed $detector_seed"
"$PY" -m export.validate_detector --models "$MODELS" --data "$DATA" --fonts "$FONTS" --seed "$detector_seed" \
    | "$PY" -c "$one_line"
for set in scenes-ro br-crops backgrounds; do
    echo "== $set $split"
    "$PY" -m runtime.evaluate --set "$set" --data "$DATA" --split "$split" --models "$MODELS" --out "$report/$set" \
        | grep -E '^\| (detection|detections \(|end-to-end|recognizer exact)' || true
done
for street in "" --night "--roll 10" "--roll 20" "--roll 30" "--rendered ${rendered[0]}" "--rendered ${rendered[1]}"; do
    # shellcheck disable=SC2086
    line=$("$PY" bench/street_plates.py --data "$DATA" --fonts "$FONTS" --models "$MODELS" --split "$split" \
        --rounds "$rounds" $street | grep -E '^\| all ')
    echo "== street $split ${street:-level} (plates, found, read): $line"
done
