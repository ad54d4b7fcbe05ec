"""HTTP API against a real waitress server on a loopback ephemeral port."""
from __future__ import annotations

import base64
import struct
import threading

import cv2
import numpy as np
import pytest
import requests
from waitress.server import create_server

from server import create_app
from tiny_models import EXPECTED_BOXES

TIMEOUT = 30


@pytest.fixture(scope="module")
def serve():
    """Start create_app(**kwargs) under waitress in a thread; returns its base URL."""
    servers = []
    closing = threading.Event()

    def run(server) -> None:
        # close() from this thread can break the serving thread's select(): expected at teardown only.
        try:
            server.run()
        except (OSError, ValueError):
            if not closing.is_set():
                raise

    def start(app) -> str:
        server = create_server(app, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=run, args=(server,), daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.effective_port}"

    yield start
    closing.set()
    for server, thread in servers:
        server.close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def url(serve, tiny_reader, tmp_path_factory):
    return serve(create_app(tiny_reader, max_upload_mb=1, max_pixels=4_000_000))


def post(url: str, data: bytes, field: str = "file", name: str = "plate.jpg", **kw) -> requests.Response:
    return requests.post(url, files={field: (name, data, "image/jpeg")}, timeout=TIMEOUT, **kw)


def assert_error(response: requests.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status and words in body["error"]


def test_upload_shape_and_boxes(url, scene_jpeg):
    r = post(url + "/", scene_jpeg)
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["detections", "output_image"]
    dets = body["detections"]
    assert [d["bounding_box"] for d in dets] == EXPECTED_BOXES  # original pixels, not letterboxed
    for d in dets:
        assert list(d) == ["bb_confidence", "bounding_box", "ocr_pred", "ocr_confidence", "char_confidences",
                           "plate_score", "corners"]
        assert d["plate_score"] == pytest.approx(1.0)  # the tiny encoder scores every crop a plate
        assert d["ocr_pred"] == "ABC1D23"
        assert isinstance(d["bb_confidence"], float) and all(isinstance(v, int) for v in d["bounding_box"])
        assert len(d["char_confidences"]) == 7
        assert d["ocr_confidence"] == pytest.approx(np.prod(d["char_confidences"]))
    assert dets[0]["bb_confidence"] == pytest.approx(0.9)
    assert len(dets[0]["corners"]) == 4 and dets[1]["corners"] is None
    image = cv2.imdecode(np.frombuffer(base64.b64decode(body["output_image"]), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (720, 1280, 3)
    assert base64.b64decode(body["output_image"])[:3] == b"\xff\xd8\xff"


def test_upload_field_alias_and_png(url, scene_jpeg):
    png = cv2.imencode(".png", cv2.imdecode(np.frombuffer(scene_jpeg, np.uint8), cv2.IMREAD_COLOR))[1].tobytes()
    r = post(url + "/", png, field="upload", name="x.png")
    assert r.status_code == 200 and len(r.json()["detections"]) == 2


@pytest.mark.parametrize("flag", ["0", "false", "no"])
def test_skip_output_image(url, scene_jpeg, flag):
    r = post(url + f"/?output_image={flag}", scene_jpeg)
    assert r.status_code == 200 and r.json()["output_image"] is None and len(r.json()["detections"]) == 2


def test_option_may_come_as_a_form_field_and_the_image_as_a_raw_body(url, scene_jpeg):
    r = requests.post(url + "/", files={"file": ("a.jpg", scene_jpeg, "image/jpeg")}, data={"output_image": "off"},
                      timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["output_image"] is None and len(r.json()["detections"]) == 2
    raw = requests.post(url + "/", data=scene_jpeg, headers={"Content-Type": "image/jpeg"}, timeout=TIMEOUT)
    assert raw.status_code == 200 and len(raw.json()["detections"]) == 2


def test_nothing_sent_is_silently_dropped(url, scene_jpeg):
    two = [("file", ("a.jpg", scene_jpeg, "image/jpeg")), ("file", ("b.jpg", scene_jpeg, "image/jpeg"))]
    assert_error(requests.post(url + "/", files=two, timeout=TIMEOUT), 400, "one image per request: got 2 files")
    both = {"file": ("a.jpg", scene_jpeg, "image/jpeg"), "upload": ("b.jpg", scene_jpeg, "image/jpeg")}
    assert_error(requests.post(url + "/", files=both, timeout=TIMEOUT), 400, "one image per request")
    assert_error(post(url + "/?output_images=0", scene_jpeg), 400, "unknown field 'output_images'")
    assert_error(requests.post(url + "/", files={"file": ("a.jpg", scene_jpeg)}, data={"regions": "br"},
                               timeout=TIMEOUT), 400, "unknown field 'regions'")
    assert_error(post(url + "/?output_image=maybe", scene_jpeg), 400, "output_image must be 1 or 0")


def test_text_where_the_image_belongs(url):
    # curl -F file=car.jpg (no @) sends the file's name as text
    assert_error(requests.post(url + "/", data={"file": "car.jpg"}, timeout=TIMEOUT), 400, "holds text, not a file")


def test_no_plate_gives_empty_list(serve, tmp_path):
    from runtime import PlateReader
    from tiny_models import write_models, row

    models = write_models(tmp_path / "m", np.array([row((0, 0, 10, 10), 0.1)], np.float32))
    base = serve(create_app(PlateReader(models, providers="cpu", threads=1)))
    image = cv2.imencode(".jpg", np.zeros((100, 200, 3), np.uint8))[1].tobytes()
    r = post(base + "/", image)
    assert r.status_code == 200 and r.json()["detections"] == []
    drawn = cv2.imdecode(np.frombuffer(base64.b64decode(r.json()["output_image"]), np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape == (100, 200, 3)


def test_health(url):
    r = requests.get(url + "/health", timeout=TIMEOUT)
    assert r.status_code == 200
    body = r.json()
    assert body["ready"] is True and body["provider"] == "cpu"
    assert body["models"]["version"] == 1
    for part in ("detector", "recognizer_encoder", "recognizer_decoder"):
        assert len(body["models"][part]["sha256"]) == 64


def test_no_file(url):
    assert_error(requests.post(url + "/", timeout=TIMEOUT), 400, "no image")
    assert_error(requests.post(url + "/", files={"other": ("a.jpg", b"x")}, timeout=TIMEOUT), 400,
                 "no image in form field 'file': got a file in field 'other'")


def test_empty_file(url):
    assert_error(post(url + "/", b""), 400, "empty")


def test_not_an_image(url):
    assert_error(post(url + "/", b"hello, this is text" * 10, name="x.txt"), 415, "not an image")


def test_truncated_images(url, scene_jpeg):
    assert_error(post(url + "/", scene_jpeg[: len(scene_jpeg) // 2]), 400, "truncated")
    png = cv2.imencode(".png", np.full((50, 80, 3), 7, np.uint8))[1].tobytes()
    assert_error(post(url + "/", png[:-20], name="x.png"), 400, "truncated")
    assert_error(post(url + "/", png[:20], name="x.png"), 400, "truncated")


def test_over_pixel_limit(url):
    big = cv2.imencode(".png", np.zeros((1500, 3000, 3), np.uint8))[1].tobytes()  # 4.5 MP > 4 MP
    assert_error(post(url + "/", big, name="big.png"), 413, "over the limit")


def test_decompression_bomb_refused_from_header(url):
    png = bytearray(cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    png[16:24] = struct.pack(">II", 100_000, 100_000)  # claims 10 gigapixels
    assert_error(post(url + "/", bytes(png), name="bomb.png"), 413, "100000x100000")


def test_upload_over_size_limit(url):
    assert_error(post(url + "/", b"\xff\xd8\xff" + b"\0" * (2 * 1024 * 1024)), 413, "too large")


def test_wrong_method_and_path(url):
    r = requests.get(url + "/", timeout=TIMEOUT)
    assert_error(r, 405, "not allowed")
    assert "POST" in r.headers["Allow"]
    assert_error(requests.put(url + "/", data=b"x", timeout=TIMEOUT), 405, "not allowed")
    assert_error(requests.post(url + "/health", timeout=TIMEOUT), 405, "not allowed")
    assert_error(requests.get(url + "/nope", timeout=TIMEOUT), 404, "not found")


def test_concurrent_requests(url, scene_jpeg):
    results: list[int] = []

    def worker() -> None:
        for _ in range(3):
            results.append(post(url + "/?output_image=0", scene_jpeg).status_code)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert results == [200] * 12


def test_debug_dir_uses_generated_names(serve, tiny_reader, tmp_path, scene_jpeg):
    debug = tmp_path / "debug"
    base = serve(create_app(tiny_reader, debug_dir=debug))
    r = post(base + "/", scene_jpeg, name="../../evil name.jpg")
    assert r.status_code == 200
    files = sorted(p.name for p in debug.iterdir())
    assert len(files) == 3  # annotated image + 2 crops
    assert not any("evil" in f for f in files)
    assert all(len(f.split(".")[0].split("_")[0]) == 32 for f in files)  # uuid4 hex
    assert not (tmp_path / "evil name.jpg").exists()


def test_shipped_models_serve(serve, shipped_models_dir, scene_jpeg):
    base = serve(create_app(models_dir=shipped_models_dir, providers="cpu", threads=1))
    r = post(base + "/", scene_jpeg)
    assert r.status_code == 200
    for d in r.json()["detections"]:
        x, y, w, h = d["bounding_box"]
        assert 0 <= x and 0 <= y and x + w <= 1280 and y + h <= 720
    assert requests.get(base + "/health", timeout=TIMEOUT).json()["ready"] is True
