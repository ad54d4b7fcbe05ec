"""python -m runtime: one JSON line per image, --draw writes annotated images."""
import json
import subprocess
import sys

import cv2

from conftest import ROOT
from tiny_models import EXPECTED_BOXES


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


def test_cli_files_dir_and_draw(tmp_path, tiny_models_dir, scene_jpeg):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(scene_jpeg)
    (images / "b.jpg").write_bytes(scene_jpeg)
    (images / "notes.txt").write_text("not an image")
    out = tmp_path / "drawn"
    proc = run_cli(str(images), str(images / "a.jpg"), "--models", str(tiny_models_dir), "--providers", "cpu",
                   "--threads", "1", "--draw", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["image"].rsplit("/", 1)[1] for line in lines] == ["a.jpg", "b.jpg", "a.jpg"]
    for line in lines:
        assert [p["box"] for p in line["plates"]] == EXPECTED_BOXES
        assert [p["text"] for p in line["plates"]] == ["ABC1D23"] * 2
    drawn = cv2.imread(str(out / "a.jpg"))
    assert drawn.shape == (720, 1280, 3)


def test_cli_bad_image_reports_error_and_fails(tmp_path, tiny_models_dir):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"definitely not a jpeg")
    proc = run_cli(str(bad), "--models", str(tiny_models_dir), "--providers", "cpu")
    assert proc.returncode == 1
    line = json.loads(proc.stdout)
    assert line["image"] == str(bad) and "not an image" in line["error"]
