"""HTTP API for the plate reader: Flask application factory, served by waitress.

    python server.py [--host 0.0.0.0] [--port 5000] [--threads 2] [--workers 4] [--providers auto]
                     [--models models] [--debug-dir DIR] [--max-upload-mb 10] [--max-pixels 40000000]

Every option also reads an environment variable (PLATES_HOST, PLATES_PORT, ...); see docs/API.md.
POST / with a multipart image in field `file` (or `upload`) -> {"detections": [...], "output_image": b64 JPEG}.
"""
from __future__ import annotations

import argparse
import base64
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

import cv2
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException

from runtime import ImageError, PlateReader, PlateResult
from runtime.draw import draw_results, encode_jpeg
from runtime.image import DEFAULT_MAX_PIXELS

log = logging.getLogger("plates.server")
TRUE_VALUES = {"1", "true", "yes", "on"}
FALSE_VALUES = {"0", "false", "no", "off"}
UPLOAD_FIELDS = ("file", "upload")
OPTIONS = ("output_image",)
RAW_BODY_TYPES = ("image/", "application/octet-stream")


def detection_json(plate: PlateResult) -> dict[str, Any]:
    """One plate in the API's shape: the three original keys first, extras after."""
    return {
        "bb_confidence": plate.confidence,
        "bounding_box": list(plate.box),
        "ocr_pred": plate.text,
        "ocr_confidence": plate.text_confidence,
        "char_confidences": list(plate.char_confidences),
        "plate_score": plate.plate_score,
        "corners": [list(p) for p in plate.corners] if plate.corners is not None else None,
    }


def error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message, "status": status}), status


def _check_fields() -> None:
    """Refuse what this API would otherwise ignore: unknown options, text where the image belongs."""
    unknown = sorted(set(request.values) - set(OPTIONS) - set(UPLOAD_FIELDS))
    if unknown:
        raise BadRequest(f"unknown field {', '.join(map(repr, unknown))}: the image goes in form field "
                         f"'{UPLOAD_FIELDS[0]}', and the only option is {', '.join(map(repr, OPTIONS))}")
    for field in UPLOAD_FIELDS:
        if field in request.values:
            raise BadRequest(f"field '{field}' holds text, not a file: send the image itself, "
                             f"e.g. curl -F {field}=@car.jpg")


def _flag(name: str, default: bool) -> bool:
    """A yes/no option from the query string or the form; a value that is neither is an error."""
    value = request.values.get(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word not in TRUE_VALUES | FALSE_VALUES:
        raise BadRequest(f"{name} must be 1 or 0 (or true/false, yes/no, on/off), not {value!r}")
    return word in TRUE_VALUES


def _upload_bytes() -> bytes | None:
    """The request's one image: multipart field `file`/`upload`, or a raw image/* body; None if absent.

    A second file, or a file under another name, is refused rather than dropped.
    """
    files = [(name, storage) for name in request.files for storage in request.files.getlist(name)]
    if len(files) > 1:
        raise BadRequest(f"one image per request: got {len(files)} files "
                         f"(fields {', '.join(repr(name) for name, _ in files)})")
    if files:
        name, storage = files[0]
        if name not in UPLOAD_FIELDS:
            raise BadRequest(f"no image in form field '{UPLOAD_FIELDS[0]}': got a file in field {name!r}")
        return storage.read()
    if request.mimetype and request.mimetype.startswith(RAW_BODY_TYPES):
        return request.get_data(cache=False)
    return None


def _write_debug(debug_dir: Path, annotated: Any, crops: list[Any]) -> None:
    """Annotated image and plate crops under fresh uuid names (never a name from the request)."""
    stem = uuid.uuid4().hex
    cv2.imwrite(str(debug_dir / f"{stem}.jpg"), annotated, [cv2.IMWRITE_JPEG_QUALITY, 90])
    for i, crop in enumerate(crops):
        cv2.imwrite(str(debug_dir / f"{stem}_plate{i}.png"), crop)


def create_app(
    reader: PlateReader | None = None,
    *,
    models_dir: str | os.PathLike[str] | None = None,
    providers: str = "auto",
    threads: int = 2,
    max_upload_mb: float = 10.0,
    max_pixels: int | None = None,
    debug_dir: str | os.PathLike[str] | None = None,
    jpeg_quality: int = 80,
) -> Flask:
    """Flask app around one shared PlateReader (built from the arguments if not given).

    max_pixels=None keeps the reader's own limit; uploads over max_upload_mb get a JSON 413.
    """
    started = time.perf_counter()
    if reader is None:
        reader = PlateReader(models_dir, providers=providers, threads=threads,
                             max_pixels=DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels)
    pixel_limit = reader.max_pixels if max_pixels is None else int(max_pixels)
    debug_path = Path(debug_dir) if debug_dir else None
    if debug_path is not None:
        debug_path.mkdir(parents=True, exist_ok=True)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = int(max_upload_mb * 1024 * 1024)
    app.json.sort_keys = False  # keep bb_confidence, bounding_box, ocr_pred first
    app.extensions["plate_reader"] = reader
    info = {**reader.info(), "ready": True, "load_seconds": round(reader.load_seconds, 3),
            "max_upload_mb": max_upload_mb, "max_pixels": pixel_limit}
    log.info("app ready in %.2fs: provider %s, models %s", time.perf_counter() - started, reader.provider,
             reader.manifest.root)

    @app.post("/")
    def read_plates() -> Any:
        _check_fields()
        want_image = _flag("output_image", True)
        data = _upload_bytes()
        if data is None:
            return error(400, f"no image: send it as multipart/form-data field '{UPLOAD_FIELDS[0]}'")
        if not data:
            return error(400, "empty file: the upload has no bytes")
        try:
            analysis = reader.analyze(data, pixel_limit)
        except ImageError as exc:
            return error(exc.status, str(exc))
        body: dict[str, Any] = {"detections": [detection_json(p) for p in analysis.plates]}
        annotated = draw_results(analysis.image, analysis.plates) if (want_image or debug_path) else None
        body["output_image"] = (
            base64.b64encode(encode_jpeg(annotated, jpeg_quality)).decode("ascii") if want_image else None
        )
        if debug_path is not None:
            _write_debug(debug_path, annotated, analysis.crops)
        return jsonify(body)

    @app.get("/health")
    def health() -> Any:
        return jsonify(info)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        messages = {
            404: "not found: POST an image to / or GET /health",
            405: f"method {request.method} not allowed here",
            413: f"upload too large: the limit is {max_upload_mb:g} MB",
        }
        response, status = error(exc.code or 500, messages.get(exc.code or 0, exc.description or exc.name))
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response, status

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Any:
        log.exception("request failed")
        return error(500, f"internal error: {type(exc).__name__}")

    return app


def _env(name: str, default: Any) -> Any:
    return os.environ.get(f"PLATES_{name}", default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Licence-plate reader HTTP server (waitress).")
    p.add_argument("--host", default=_env("HOST", "0.0.0.0"), help="bind address [PLATES_HOST, 0.0.0.0]")
    p.add_argument("--port", type=int, default=int(_env("PORT", 5000)), help="[PLATES_PORT, 5000]")
    p.add_argument("--threads", type=int, default=int(_env("THREADS", 2)),
                   help="onnxruntime intra-op threads per model [PLATES_THREADS, 2]")
    p.add_argument("--workers", type=int, default=int(_env("WORKERS", 4)),
                   help="waitress worker threads = concurrent requests [PLATES_WORKERS, 4]")
    p.add_argument("--providers", default=_env("PROVIDERS", "auto"),
                   help="auto | cpu | cuda | tensorrt [PLATES_PROVIDERS, auto]")
    p.add_argument("--models", default=_env("MODELS", None), help="models folder [PLATES_MODELS, ./models]")
    p.add_argument("--debug-dir", default=_env("DEBUG_DIR", None),
                   help="write annotated images and crops here [PLATES_DEBUG_DIR, off]")
    p.add_argument("--max-upload-mb", type=float, default=float(_env("MAX_UPLOAD_MB", 10)),
                   help="largest accepted upload [PLATES_MAX_UPLOAD_MB, 10]")
    p.add_argument("--max-pixels", type=int, default=int(_env("MAX_PIXELS", DEFAULT_MAX_PIXELS)),
                   help=f"largest accepted image, width*height [PLATES_MAX_PIXELS, {DEFAULT_MAX_PIXELS}]")
    p.add_argument("--log-level", default=_env("LOG_LEVEL", "INFO"), help="[PLATES_LOG_LEVEL, INFO]")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    started = time.perf_counter()
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "queue depth 1" on every burst is noise
    from waitress import serve

    app = create_app(
        models_dir=args.models, providers=args.providers, threads=args.threads,
        max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels, debug_dir=args.debug_dir,
    )
    reader: PlateReader = app.extensions["plate_reader"]
    log.info("serving on http://%s:%d with %d workers, provider %s, started in %.2fs",
             args.host, args.port, args.workers, reader.provider, time.perf_counter() - started)
    serve(
        app, host=args.host, port=args.port, threads=args.workers,
        # Flask answers a JSON 413 over --max-upload-mb; bodies over twice that are refused by waitress
        # itself (plain-text 413) from the Content-Length, before it buffers them
        max_request_body_size=2 * int(args.max_upload_mb * 1024 * 1024) + (1 << 20),
        channel_timeout=30, ident="plates",
    )


if __name__ == "__main__":
    main()
