"""Execution providers: pick where the ONNX sessions run, and say so.

`auto` uses CUDA only when a session really runs on it (onnxruntime-gpu quietly falls back
to CPU when the CUDA libraries are missing, so the available-providers list alone proves
nothing); otherwise CPU, without the wall of loader errors ORT prints on a CPU-only box.
`cpu`, `cuda` and `tensorrt` force one, and a forced provider that cannot run is an error.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path

import onnxruntime as ort

log = logging.getLogger(__name__)

PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
CHOICES = ("auto", *PROVIDERS)
_ORT_DEFAULT_SEVERITY = 2  # warning: ORT's own default


class ProviderError(RuntimeError):
    """A forced execution provider cannot run on this machine."""


def session_options(threads: int) -> ort.SessionOptions:
    """Fixed thread count per session; no spin-waiting so concurrent requests share cores."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def normalize_choice(providers: str) -> str:
    """'auto' | 'cpu' | 'cuda' | 'tensorrt' (case-insensitive), anything else is a ValueError."""
    name = str(providers).strip().lower()
    if name in ("trt",):
        name = "tensorrt"
    if name not in CHOICES:
        raise ValueError(f"unknown providers '{providers}': choose one of {', '.join(CHOICES)}")
    return name


def short_name(session: ort.InferenceSession) -> str:
    """'cuda' / 'tensorrt' / 'cpu' for the provider a session actually runs on first."""
    first = session.get_providers()[0]
    return next((k for k, v in PROVIDERS.items() if v == first), first)


def _chain(name: str) -> list[str]:
    """Provider list handed to ORT: the wanted one first, CPU last for unsupported nodes."""
    if name == "tensorrt":
        return [PROVIDERS["tensorrt"], PROVIDERS["cuda"], PROVIDERS["cpu"]]
    if name == "cuda":
        return [PROVIDERS["cuda"], PROVIDERS["cpu"]]
    return [PROVIDERS["cpu"]]


@contextlib.contextmanager
def _quiet_ort():
    """Silence ORT's loader errors while probing a GPU provider that may not load."""
    ort.set_default_logger_severity(4)
    try:
        yield
    finally:
        ort.set_default_logger_severity(_ORT_DEFAULT_SEVERITY)


def _preload_cuda() -> None:
    """Let pip-installed nvidia-* CUDA/cuDNN libraries be found (ORT >= 1.21); silent, best effort."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
        preload()


def _try_gpu(model: str | bytes, name: str, threads: int) -> tuple[ort.InferenceSession | None, str]:
    """Session on a GPU provider if it really runs there, else (None, why not)."""
    wanted = PROVIDERS[name]
    available = ort.get_available_providers()
    if wanted not in available:
        return None, f"onnxruntime {ort.__version__} ({ort.get_device()} build) offers only {available}"
    _preload_cuda()
    options = session_options(threads)
    options.log_severity_level = 4
    try:
        # enable_fallback=0: fail instead of ORT's printed "EP Error ... Falling back" banner
        with _quiet_ort(), contextlib.redirect_stdout(io.StringIO()):
            session = ort.InferenceSession(model, options, providers=_chain(name), enable_fallback=0)
    except Exception as exc:  # ORT raises many types when a provider fails to initialise
        return None, f"{wanted} failed to start: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
    if session.get_providers()[0] != wanted:
        return None, f"{wanted} is installed but did not load (CUDA/cuDNN libraries missing or no GPU)"
    return session, ""


def create_session(
    model: str | os.PathLike[str] | bytes, providers: str = "auto", threads: int = 2
) -> ort.InferenceSession:
    """InferenceSession on the chosen provider; raises ProviderError if a forced one can't run."""
    name = normalize_choice(providers)
    source: str | bytes = model if isinstance(model, bytes) else str(Path(model))
    if name != "cpu":
        session, why = _try_gpu(source, "cuda" if name == "auto" else name, threads)
        if session is not None:
            return session
        if name != "auto":
            raise ProviderError(f"execution provider '{name}' was requested but cannot run here: {why}. "
                                "Use --providers auto or cpu.")
        log.info("providers auto: using CPU (%s)", why)
    return ort.InferenceSession(source, session_options(threads), providers=_chain("cpu"))
