"""Execution provider choice: auto settles on CPU here and says so; a forced GPU provider fails clearly."""
import logging
import shutil
import subprocess

import onnxruntime as ort
import pytest

from runtime import PlateReader, ProviderError
from runtime.providers import create_session, normalize_choice, short_name


def gpu_really_usable() -> bool:
    if "CUDAExecutionProvider" not in ort.get_available_providers() or not shutil.which("nvidia-smi"):
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0


needs_no_gpu = pytest.mark.skipif(gpu_really_usable(), reason="a usable CUDA GPU is present")


@needs_no_gpu
def test_auto_picks_cpu_and_logs_it(tiny_models_dir, caplog, capfd):
    with caplog.at_level(logging.INFO, logger="runtime"):
        reader = PlateReader(tiny_models_dir, providers="auto", threads=1)
    assert reader.provider == "cpu"
    assert reader.info()["provider"] == "cpu"
    assert any("on cpu" in r.getMessage() for r in caplog.records)
    out, err = capfd.readouterr()
    assert "EP Error" not in out and "[E:onnxruntime" not in err  # no wall of loader errors


@needs_no_gpu
@pytest.mark.parametrize("name", ["cuda", "tensorrt"])
def test_forced_gpu_provider_raises_clearly(tiny_models_dir, name):
    with pytest.raises(ProviderError, match=f"'{name}' was requested but cannot run here"):
        PlateReader(tiny_models_dir, providers=name, threads=1)


def test_forced_cpu(tiny_models_dir):
    session = create_session(tiny_models_dir / "detector.onnx", "cpu", threads=1)
    assert short_name(session) == "cpu"
    assert session.get_session_options().intra_op_num_threads == 1


def test_unknown_provider_name():
    with pytest.raises(ValueError, match="unknown providers"):
        normalize_choice("opencl")
    assert normalize_choice(" CUDA ") == "cuda"
