"""Edge licence-plate reader runtime: numpy, OpenCV and onnxruntime only (never torch)."""
from .image import ImageError, ImageTooLargeError, NotAnImageError, TruncatedImageError
from .manifest import ManifestError
from .providers import ProviderError
from .reader import Analysis, PlateReader, PlateResult

__all__ = [
    "PlateReader", "PlateResult", "Analysis",
    "ImageError", "NotAnImageError", "TruncatedImageError", "ImageTooLargeError",
    "ManifestError", "ProviderError",
]
