"""Speed of the shipped reader: stages, end to end, the HTTP server under load, and % of machine peak.

    python bench/bench_runtime.py [--images DIR] [--models DIR] [--threads 2] [--providers auto]
                                  [--repeat 3] [--seconds 20] [--stages detector,recognizer,e2e,server,flops]
                                  [--clients 4] [--requests 2000] [--server-seconds 60] [--json FILE]

Default images: the scenes-ro validation frames (1280x720 dash-cam JPEGs). Each stage runs over the
images `--repeat` times or for `--seconds`, whichever ends first, after a short warm-up.
Torch-free (runtime deps + onnx, which is only needed for the FLOPs count).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from runtime.boxes import postprocess  # noqa: E402
from runtime.crops import crop_plate  # noqa: E402
from runtime.evaluate import DEFAULT_DATA, IMAGE_SUFFIXES, load_scenes_ro  # noqa: E402
from runtime.letterbox import fit, letterbox  # noqa: E402
from runtime.manifest import load_manifest  # noqa: E402

FRAME = (1280, 720)
NOMINAL_DECODER_STEPS = 8  # 7 characters + the end token: a typical plate's greedy loop


# ---------------------------------------------------------------- inputs

def load_frames(images: Path | None, data: Path, limit: int) -> list[tuple[str, bytes]]:
    """(name, JPEG bytes) of 1280x720 frames; other sizes are resized and re-encoded to 1280x720."""
    if images is None:
        paths = [s.path for s in load_scenes_ro(data, "val")]
    else:
        paths = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if limit > 0:
        paths = paths[:limit]
    frames = []
    for path in paths:
        data_bytes = path.read_bytes()
        image = cv2.imdecode(np.frombuffer(data_bytes, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            continue
        if (image.shape[1], image.shape[0]) != FRAME or path.suffix.lower() not in (".jpg", ".jpeg"):
            image = cv2.resize(image, FRAME, interpolation=cv2.INTER_AREA)
            data_bytes = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        frames.append((path.name, data_bytes))
    if not frames:
        raise SystemExit(f"no readable images in {images or data}")
    return frames


def plate_crops(reader: Any, images: list[np.ndarray], want: int = 16) -> tuple[list[list[np.ndarray]], str]:
    """Recognizer inputs cut where the detector finds plates (frame centres if it finds none),
    each plate once per crop margin: its views, as the reader cuts them."""
    spec = reader.recognizer.spec

    def views(image: np.ndarray, box: np.ndarray, corners: np.ndarray | None) -> list[np.ndarray]:
        return [crop_plate(image, box, corners, spec.width, spec.height, m)[0] for m in spec.crop_margins]

    plates: list[list[np.ndarray]] = []
    for image in images:
        for d in reader.detector(image, reader.confidence, reader.iou):
            plates.append(views(image, d.box, d.corners))
        if len(plates) >= want:
            return plates[:want], "detections"
    source = "detections" if plates else "frame centres (no detections)"
    i = 0
    while len(plates) < want:
        h, w = images[i % len(images)].shape[:2]
        plates.append(views(images[i % len(images)], np.array([w / 2 - 80, h / 2 - 25, w / 2 + 80, h / 2 + 25], np.float32), None))
        i += 1
    return plates, source


# ---------------------------------------------------------------- timing

def first_pass(reader: Any, image: np.ndarray) -> list[Any]:
    """The detector stage as it was before the coarse pass and the second look: letterbox, graph, decoding, NMS."""
    spec = reader.detector.spec
    blob, box = letterbox(image, *spec.input_size(image.shape[1], image.shape[0]), spec.pad_value, spec.norm)
    rows = reader.detector.rows(blob, reader.confidence)
    return postprocess(rows, box.ratio, image.shape[1], image.shape[0], reader.confidence, reader.iou)


def time_calls(fn: Callable[[Any], Any], items: Sequence[Any], repeat: int, seconds: float,
               warmup: int = 2, min_samples: int = 5) -> list[float]:
    """Seconds per call over items cycled `repeat` times, stopping early after `seconds`."""
    for item in list(items)[:warmup]:
        fn(item)
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    for k in range(max(1, repeat) * len(items)):
        if k >= min_samples and time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        fn(items[k % len(items)])
        times.append(time.perf_counter() - started)
    return times


def summary(seconds: list[float], per_call: int = 1) -> dict[str, float]:
    """Median / p95 / p99 ms per call and items per second (per_call items per call)."""
    ms = np.asarray(seconds) * 1e3
    return {"count": int(len(ms)), "median_ms": round(float(np.median(ms)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "per_second": round(per_call * len(ms) / max(float(ms.sum()) / 1e3, 1e-9), 2)}


# ---------------------------------------------------------------- FLOPs

def _dims(value_info: Any) -> list[int | None]:
    return [d.dim_value if d.HasField("dim_value") else None for d in value_info.type.tensor_type.shape.dim]


def count_macs(path: Path, sizes: dict[str, int] | None = None) -> dict[str, Any]:
    """Multiply-accumulates of one run of an ONNX graph (Conv, ConvTranspose, MatMul, Gemm, RNNs).

    Symbolic input dims take their value from `sizes` by name (the detector's "height" and
    "width" are dynamic), the others (batch) are 1; shapes come from onnx shape inference;
    nodes whose shapes stay unknown are counted in `unresolved` instead of guessed.
    """
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(path))
    for graph_input in model.graph.input:
        for d in graph_input.type.tensor_type.shape.dim:
            if not d.HasField("dim_value"):
                d.dim_value = (sizes or {}).get(d.dim_param, 1)
    graph = shape_inference.infer_shapes(model, data_prop=True).graph
    shapes: dict[str, list[int | None]] = {i.name: list(i.dims) for i in graph.initializer}
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        shapes[vi.name] = _dims(vi)
    for node in graph.node:  # weights held in Constant nodes
        if node.op_type == "Constant" and node.attribute and node.attribute[0].HasField("t"):
            shapes[node.output[0]] = list(node.attribute[0].t.dims)

    def known(name: str) -> list[int] | None:
        s = shapes.get(name)
        return None if s is None or any(v is None for v in s) else [int(v) for v in s]

    macs: Counter[str] = Counter()
    unresolved: Counter[str] = Counter()
    for node in graph.node:
        op, ins, outs = node.op_type, node.input, node.output
        try:
            if op == "Conv":
                w, out = known(ins[1]), known(outs[0])
                macs[op] += int(np.prod(out)) * int(np.prod(w[1:]))
            elif op == "ConvTranspose":
                w, x = known(ins[1]), known(ins[0])
                macs[op] += int(np.prod(x)) * int(np.prod(w[1:]))
            elif op == "MatMul":
                a, out = known(ins[0]), known(outs[0])
                macs[op] += int(np.prod(out)) * a[-1]
            elif op == "Gemm":
                a, out = known(ins[0]), known(outs[0])
                trans_a = next((at.i for at in node.attribute if at.name == "transA"), 0)
                macs[op] += int(np.prod(out)) * (a[0] if trans_a else a[1])
            elif op in ("GRU", "LSTM", "RNN"):
                x, w, r = known(ins[0]), known(ins[1]), known(ins[2])
                macs[op] += x[0] * x[1] * w[0] * w[1] * (w[2] + r[2])
        except (TypeError, IndexError):  # a None shape
            unresolved[op] += 1
    return {"macs": int(sum(macs.values())), "by_op": dict(macs), "unresolved": dict(unresolved)}


PEAK_CODE = """
import time, numpy as np
n = {n}
a = np.random.default_rng(0).random((n, n), dtype=np.float32); b = a.T.copy()
a @ b
best = min((lambda t: (a @ b, time.perf_counter() - t)[1])(time.perf_counter()) for _ in range({runs}))
print(2 * n ** 3 / best / 1e9)
"""


def measure_peak(threads: int, n: int = 2048, runs: int = 5) -> float:
    """float32 GFLOP/s of a large numpy matmul on `threads` BLAS threads (run apart to pin the count)."""
    env = {**os.environ, **{k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    out = subprocess.run([sys.executable, "-c", PEAK_CODE.format(n=n, runs=runs)], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def flops_table(models_root: Path, stages: dict[str, dict[str, Any]], peak_gflops: float,
                plates_per_image: float) -> dict[str, Any]:
    """MACs per stage and the share of the measured matmul peak the measured median reaches."""
    spec = load_manifest(models_root).detector
    det = count_macs(models_root / "detector.onnx", {"height": spec.height, "width": spec.width})
    frame = fit(1280, 720, spec.width, spec.height)
    coarse = {"macs": 0}
    for factor in spec.coarse_factors(frame.width, frame.height):
        _, _, coarse_w, coarse_h = spec.coarse_input(round(frame.width / factor), round(frame.height / factor))
        coarse["macs"] += count_macs(models_root / "detector.onnx", {"height": coarse_h, "width": coarse_w})["macs"]
    enc = count_macs(models_root / "recognizer_encoder.onnx")
    dec = count_macs(models_root / "recognizer_decoder.onnx")
    per_plate = enc["macs"] + NOMINAL_DECODER_STEPS * dec["macs"]
    work = {  # stage -> MACs per timed call
        "detector": det["macs"] + coarse["macs"],  # first and coarse passes
        "recognizer_b1": per_plate,
        "recognizer_b8": 8 * per_plate,
        "end_to_end": det["macs"] + coarse["macs"] + plates_per_image * per_plate,
    }
    rows = {}
    for name, macs in work.items():
        stage = stages.get(name)
        if not stage:
            continue
        achieved = 2 * macs / (stage["median_ms"] / 1e3) / 1e9
        rows[name] = {"gmacs": round(macs / 1e9, 4), "achieved_gflops": round(achieved, 2),
                      "peak_pct": round(100 * achieved / peak_gflops, 2)}
    return {"peak_gflops": round(peak_gflops, 2), "decoder_steps_assumed": NOMINAL_DECODER_STEPS,
            "plates_per_image": round(plates_per_image, 3),
            "graphs": {"detector": det, "detector_coarse_pass": coarse, "recognizer_encoder": enc,
                       "recognizer_decoder_step": dec},
            "stages": rows}


# ---------------------------------------------------------------- server under load

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a process in MiB, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = round(int(rest.split()[0]) / 1024, 1)
    return values


def _get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def start_server(args: argparse.Namespace, port: int, log: Path) -> tuple[subprocess.Popen, float]:
    """server.py on loopback; returns (process, seconds until /health answered 200)."""
    cmd = [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1", "--port", str(port),
           "--threads", str(args.threads), "--workers", str(args.workers), "--providers", args.providers,
           "--log-level", "WARNING"]
    if args.models:
        cmd += ["--models", str(args.models)]
    started = time.perf_counter()
    with open(log, "wb") as sink:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
    while time.perf_counter() - started < args.ready_timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if _get(port, "/health", 0.5)[0] == 200:
                return proc, time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.05)
    stop_server(proc)
    raise RuntimeError(f"server not ready after {args.ready_timeout}s:\n{log.read_text()[-2000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def load_clients(port: int, bodies: list[bytes], clients: int, total: int, seconds: float) -> dict[str, Any]:
    """`clients` threads with keep-alive connections POST frames (output_image on) until total or seconds."""
    lock = threading.Lock()
    issued = [0]
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    deadline = time.perf_counter() + seconds

    def take() -> int | None:
        with lock:
            if issued[0] >= total or time.perf_counter() > deadline:
                return None
            issued[0] += 1
            return issued[0] - 1

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        checked = False
        while (k := take()) is not None:
            body = bodies[k % len(bodies)]
            started = time.perf_counter()
            try:
                conn.request("POST", "/?output_image=1", body=body, headers={"Content-Type": "image/jpeg"})
                response = conn.getresponse()
                payload = response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    errors[f"http {response.status}"] += 1
                    continue
                if not checked:  # parse one answer per client; parsing all would load the shared CPU
                    parsed = json.loads(payload)
                    assert "detections" in parsed and parsed.get("output_image"), "unexpected answer"
                    checked = True
                with lock:
                    latencies.append(elapsed)
            except Exception as exc:  # noqa: BLE001 - every failure is a counted error, not a crash
                with lock:
                    errors[type(exc).__name__] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    result: dict[str, Any] = {"clients": clients, "requests": len(latencies), "errors": sum(errors.values()),
                              "error_kinds": dict(errors), "seconds": round(wall, 2),
                              "requests_per_second": round(len(latencies) / wall, 2)}
    if latencies:
        ms = np.asarray(latencies) * 1e3
        result.update({f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)})
    return result


def bench_server(args: argparse.Namespace, frames: list[tuple[str, bytes]]) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc, ready = start_server(args, port, Path(tmp) / "server.log")
        try:
            health = json.loads(_get(port, "/health")[1])
            rss_start = rss_mb(proc.pid)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            started = time.perf_counter()
            conn.request("POST", "/?output_image=1", body=frames[0][1], headers={"Content-Type": "image/jpeg"})
            first_status = conn.getresponse().status
            first_ms = (time.perf_counter() - started) * 1e3
            conn.close()
            load = load_clients(port, [b for _, b in frames], args.clients, args.requests, args.server_seconds)
            rss_end = rss_mb(proc.pid)
        finally:
            stop_server(proc)
    return {"start_to_ready_s": round(ready, 3), "provider": health.get("provider"),
            "threads": health.get("threads"), "workers": args.workers,
            "first_request": {"status": first_status, "ms": round(first_ms, 1)},
            "rss_mb_start": rss_start.get("VmRSS"), "rss_mb_end": rss_end.get("VmRSS"),
            "rss_mb_peak": rss_end.get("VmHWM"), **load}


# ---------------------------------------------------------------- report

def print_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Fixed-width table; missing cells print as '-'."""
    cells = [[str(r.get(c, "-")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=Path, default=None, help="folder of frames (default: scenes-ro val)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--limit", type=int, default=0, help="use the first N images only")
    p.add_argument("--models", default=None)
    p.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads (and BLAS for the peak)")
    p.add_argument("--providers", default="auto")
    p.add_argument("--repeat", type=int, default=3, help="passes over the images per stage")
    p.add_argument("--seconds", type=float, default=20.0, help="time cap per stage")
    p.add_argument("--stages", default="detector,recognizer,e2e,server,flops")
    p.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    p.add_argument("--workers", type=int, default=4, help="server waitress workers")
    p.add_argument("--requests", type=int, default=2000, help="server load: stop after this many requests")
    p.add_argument("--server-seconds", type=float, default=60.0, help="server load: or after this long")
    p.add_argument("--ready-timeout", type=float, default=120.0)
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    wanted = {s.strip() for s in args.stages.split(",") if s.strip()}

    from runtime import PlateReader

    frames = load_frames(args.images, args.data, args.limit)
    images = [cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR) for _, b in frames]
    reader = PlateReader(args.models, providers=args.providers, threads=args.threads)
    print(f"provider {reader.provider}, {args.threads} intra-op threads, models {reader.manifest.root}, "
          f"loaded in {reader.load_seconds:.2f}s; {len(frames)} frames {FRAME[0]}x{FRAME[1]}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {os.cpu_count()} CPUs")
    results: dict[str, Any] = {"provider": reader.provider, "threads": args.threads, "frames": len(frames),
                               "models": str(reader.manifest.root), "load_seconds": round(reader.load_seconds, 3),
                               "cpus": os.cpu_count(), "stages": {}}
    stages = results["stages"]
    if "detector" in wanted:
        stages["detector"] = summary(time_calls(lambda im: reader.detector(im, reader.confidence, reader.iou),
                                                images, args.repeat, args.seconds))
        stages["detector_first_pass"] = summary(time_calls(lambda im: first_pass(reader, im), images, args.repeat,
                                                           args.seconds))
    if "recognizer" in wanted:
        plates, source = plate_crops(reader, images)
        results["recognizer_crops"] = source
        crops = [views[0] for views in plates]  # the network alone: one crop per plate
        stages["recognizer_b1"] = summary(time_calls(lambda c: reader.recognizer([c]), crops, args.repeat, args.seconds))
        batches = [crops[i:i + 8] for i in range(0, len(crops) - 7, 8)]
        stages["recognizer_b8"] = summary(time_calls(reader.recognizer, batches, args.repeat * 8, args.seconds), per_call=8)
        # As the reader reads a plate: every crop margin's view, decoded in lockstep.
        stages["recognizer_views_b1"] = summary(time_calls(lambda v: reader.recognizer(v, len(v)), plates,
                                                           args.repeat, args.seconds))
    plates_per_image = 1.0
    if "e2e" in wanted:
        counts: list[int] = []
        stages["end_to_end"] = summary(time_calls(lambda b: counts.append(len(reader.read(b))),
                                                  [b for _, b in frames], args.repeat, args.seconds))
        plates_per_image = float(np.mean(counts)) if counts else 0.0
        results["plates_per_image"] = round(plates_per_image, 3)
    rows = [{"stage": name, **s} for name, s in stages.items()]
    for row in rows:
        if row["stage"] == "recognizer_b8":
            row["per_plate_ms"] = round(row["median_ms"] / 8, 3)
    if rows:
        print_table("stages (ms per call; per_second = images or plates per second)", rows,
                    ["stage", "count", "median_ms", "p95_ms", "p99_ms", "per_second", "per_plate_ms"])
    if "flops" in wanted and not stages:
        print("\nFLOPs skipped: they are a share of timed stages; add detector, recognizer or e2e to --stages")
    if "flops" in wanted and stages:
        try:
            peak = measure_peak(args.threads)
            results["flops"] = flops_table(Path(reader.manifest.root), stages, peak, plates_per_image)
            print_table(f"compute (peak = numpy float32 matmul, {args.threads} threads: {peak:.1f} GFLOP/s; "
                        f"decoder {NOMINAL_DECODER_STEPS} steps per plate)",
                        [{"stage": k, **v} for k, v in results["flops"]["stages"].items()],
                        ["stage", "gmacs", "achieved_gflops", "peak_pct"])
        except ImportError:
            print("\nFLOPs skipped: the onnx package is not installed (pip install onnx)")
    if "server" in wanted:
        del reader  # the server loads its own copy; free ours first
        server = bench_server(args, frames)
        results["server"] = server
        print_table(f"server: {server['clients']} clients, {server['workers']} workers, output_image on "
                    f"(clients share this machine's CPUs)", [server],
                    ["requests", "errors", "requests_per_second", "p50_ms", "p95_ms", "p99_ms",
                     "start_to_ready_s", "rss_mb_start", "rss_mb_end", "rss_mb_peak"])
        if server["errors"]:
            print(f"errors: {server['error_kinds']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
