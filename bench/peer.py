"""Side by side with a peer open-source reader (PyPI platedet + platerec): accuracy and speed.

    python -m venv .venv-peer && .venv-peer/bin/pip install -r bench/requirements-peer.txt   # once
    python bench/peer.py --set scenes-ro [--limit 20] [--threads 2] [--models DIR] [--json FILE]
    python bench/peer.py --set br-crops  [--limit 50]

The peer runs in its own virtualenv (it pins other onnxruntime / OpenCV / Pillow versions) as a
subprocess of this script (`--worker`), ours runs here; both on CPU with the same intra-op thread
count, one after the other, over the same files. The peer's models ship inside its wheels: it
needs no network at run time.

- scenes-ro: full frames -> detection recall / precision at IoU 0.5 and per-image latency
  (from JPEG bytes in memory, decode included).
- br-crops: each whole crop -> recognizer alone (exact plate, character accuracy, ms per crop),
  and end to end on the crop pasted in a 1280x720 frame (exact plate, ms per frame).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = ROOT / ".venv-peer" / "bin" / "python"


# ---------------------------------------------------------------- the peer side (runs in .venv-peer)

def peer_worker(items_file: Path, out_file: Path, threads: int) -> None:
    """Run platerec/platedet over the items; writes predictions and timings as JSON. Stdlib + peer deps only."""
    import io
    import re

    import onnxruntime as ort
    from PIL import Image

    try:
        from platerec import Platerec
    except ImportError as exc:
        raise SystemExit(f"peer not installed in {sys.executable}: pip install -r bench/requirements-peer.txt ({exc})")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    started = time.perf_counter()
    peer = Platerec(sess_options=options, providers=["CPUExecutionProvider"])  # models from the wheel, no network
    load_seconds = time.perf_counter() - started
    tags = re.compile(r"\[[a-z]+\]")  # country tokens such as [br] are not plate text
    items = json.loads(items_file.read_text())

    def read_word(image: Any) -> str:
        # Platerec.read takes min() of the per-character probabilities: an empty reading raises
        try:
            return tags.sub("", peer.read(image)["word"])
        except ValueError:
            return ""
    results = []
    for i, item in enumerate(items):
        data = Path(item["path"]).read_bytes() if "path" in item else bytes.fromhex(item["png_hex"])
        runs = 2 if i == 0 else 1  # the first call allocates: time its second run
        for _ in range(runs):
            t = time.perf_counter()
            image = Image.open(io.BytesIO(data)).convert("RGB")
            if item["mode"] == "crop":
                out = {"texts": [read_word(image)], "boxes": []}
            else:  # Platerec.detect_read, with the empty-reading guard
                found = peer.platedet.inference(image, return_types=["pil", "boxes"], conf_threshold=0.4)
                boxes = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]
                         for b in (found["boxes"]["boxes"] if found else [])]
                out = {"texts": [read_word(c) for c in (found["pil"]["images"] if found else [])], "boxes": boxes}
            seconds = time.perf_counter() - t
        results.append({**out, "seconds": seconds})
    out_file.write_text(json.dumps({"load_seconds": load_seconds, "threads": threads, "results": results}))


# ---------------------------------------------------------------- our side and the comparison

def run_peer(items: list[dict[str, Any]], threads: int, python: Path, tmp: Path) -> dict[str, Any]:
    if not python.is_file():
        raise SystemExit(f"no peer virtualenv at {python.parent.parent}: "
                         "python -m venv .venv-peer && .venv-peer/bin/pip install -r bench/requirements-peer.txt")
    items_file, out_file = tmp / "items.json", tmp / "peer.json"
    items_file.write_text(json.dumps(items))
    cmd = [str(python), str(Path(__file__).resolve()), "--worker", str(items_file), str(out_file), "--threads", str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"peer failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(out_file.read_text())


def run_ours(reader: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Same items through our reader, timed the same way (from encoded bytes, decode included)."""
    import cv2
    import numpy as np

    from runtime.evaluate import predict, read_crop

    results = []
    for i, item in enumerate(items):
        data = Path(item["path"]).read_bytes() if "path" in item else bytes.fromhex(item["png_hex"])
        for _ in range(2 if i == 0 else 1):
            t = time.perf_counter()
            if item["mode"] == "crop":
                crop = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                out = {"texts": [read_crop(reader, crop)], "boxes": []}
            else:
                predicted = predict(reader, data)  # as the API reports: unread plates with empty text
                out = {"texts": [p.text for p in predicted], "boxes": [list(p.box) for p in predicted]}
            seconds = time.perf_counter() - t
        results.append({**out, "seconds": seconds})
    return results


def score(mode: str, results: list[dict[str, Any]], labels: list[list[tuple[tuple[float, ...] | None, str | None]]]) -> dict[str, Any]:
    """Accuracy and latency of one side, with runtime.metrics (the same rules as runtime.evaluate)."""
    import numpy as np

    from runtime.evaluate import Label, Predicted, latency_summary, plate_read
    from runtime.metrics import detection_counts, normalise_text, text_accuracy

    row: dict[str, Any] = {}
    if mode == "crop":
        row.update(text_accuracy([r["texts"][0] for r in results], [lab[0][1] or "" for lab in labels]))
    else:
        tp = n_pred = n_true = with_text = read = 0
        for r, labs in zip(results, labels):
            boxes = np.array(r["boxes"], np.float64).reshape(-1, 4)
            truth = np.array([b for b, _ in labs], np.float64).reshape(-1, 4)
            a, b, c = detection_counts(boxes, truth)
            tp, n_pred, n_true = tp + a, n_pred + b, n_true + c
            predicted = [Predicted(tuple(bx), 1.0, normalise_text(t)) for bx, t in zip(r["boxes"], r["texts"])]
            for box, text in labs:
                if text:
                    with_text += 1
                    read += plate_read(Label(box, text), predicted)[0]
        row.update({"recall": tp / n_true if n_true else None, "precision": tp / n_pred if n_pred else None})
        if with_text:
            row["exact"] = read / with_text
    row["latency"] = latency_summary([r["seconds"] for r in results])
    return row


def build_items(set_name: str, data: Path, limit: int) -> tuple[list[list[dict[str, Any]]], list[str], list[list]]:
    """Per mode: the items both sides run, and their labels."""
    import cv2

    from runtime.evaluate import load_br_crops, load_scenes_ro, paste_in_canvas

    if set_name == "scenes-ro":
        samples = load_scenes_ro(data, "val")[: limit or None]
        items = [{"path": str(s.path), "mode": "frame"} for s in samples]
        labels = [[(lab.box, lab.text) for lab in s.labels] for s in samples]
        return [items], ["frames"], [labels]
    samples = load_br_crops(data, "val")[: limit or None]
    crops = [{"path": str(s.path), "mode": "crop"} for s in samples]
    crop_labels = [[(None, s.labels[0].text)] for s in samples]
    frames, frame_labels = [], []
    for s in samples:
        canvas, box = paste_in_canvas(cv2.imread(str(s.path)))
        frames.append({"png_hex": cv2.imencode(".png", canvas)[1].tobytes().hex(), "mode": "frame"})
        frame_labels.append([(box, s.labels[0].text)])
    return [crops, frames], ["crops (recognizer alone)", "crops pasted in 1280x720 frames (end to end)"], [crop_labels, frame_labels]


def _f(v: Any, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}x"


def print_comparison(title: str, ours: dict[str, Any], peer: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(f"{'measure':<26}{'ours':>12}{'peer':>12}{'ours/peer':>12}")
    for key in ("exact", "char", "recall", "precision"):
        if key in ours or key in peer:
            o, p = ours.get(key), peer.get(key)
            print(f"{key:<26}{_f(o):>12}{_f(p):>12}{_ratio(o, p):>12}")
    for key in ("median_ms", "p95_ms"):
        o, p = ours["latency"].get(key), peer["latency"].get(key)
        print(f"{'latency ' + key:<26}{_f(o, 1):>12}{_f(p, 1):>12}{_ratio(o, p):>12}")
    o, p = ours["latency"].get("mean_ms"), peer["latency"].get("mean_ms")
    o_rate, p_rate = (1e3 / o if o else None), (1e3 / p if p else None)
    print(f"{'items per second':<26}{_f(o_rate, 1):>12}{_f(p_rate, 1):>12}{_ratio(o_rate, p_rate):>12}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", nargs=2, type=Path, metavar=("ITEMS", "OUT"), help=argparse.SUPPRESS)
    p.add_argument("--set", default="scenes-ro", choices=("scenes-ro", "br-crops"), dest="set_name")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--limit", type=int, default=0, help="first N validation items only")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", default=None)
    p.add_argument("--peer-python", type=Path, default=PEER_PYTHON)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.worker:
        peer_worker(args.worker[0], args.worker[1], args.threads)
        return 0

    import tempfile

    sys.path.insert(0, str(ROOT))
    from runtime import PlateReader

    groups, titles, labels = build_items(args.set_name, args.data, args.limit)
    reader = PlateReader(args.models, providers="cpu", threads=args.threads)
    print(f"{args.set_name} val, {len(groups[0])} items, CPU, {args.threads} intra-op threads each; "
          f"ours: {reader.manifest.root}; peer: platedet 0.0.2 + platerec 0.0.3")
    report: dict[str, Any] = {"set": args.set_name, "threads": args.threads, "comparisons": []}
    with tempfile.TemporaryDirectory() as tmp:
        for items, title, labs in zip(groups, titles, labels):
            ours = score(items[0]["mode"], run_ours(reader, items), labs)
            peer_out = run_peer(items, args.threads, args.peer_python, Path(tmp))
            peer = score(items[0]["mode"], peer_out["results"], labs)
            print_comparison(f"{title}: {len(items)} items", ours, peer)
            report["comparisons"].append({"what": title, "items": len(items), "ours": ours, "peer": peer,
                                          "peer_load_seconds": round(peer_out["load_seconds"], 2),
                                          "ours_load_seconds": round(reader.load_seconds, 2)})
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
