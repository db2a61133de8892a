"""Export a text-to-image generator to ONNX, check it against PyTorch, and run it with ONNX Runtime.

``export_onnx(G, folder)`` writes ``text_encoder.onnx``, ``generator.onnx`` and ``model.json``
(see [`onnx_export`][ganblocks.export.onnx_export]); ``OnnxTextToImage(folder)`` runs them;
``check_parity`` measures the largest difference to the PyTorch generator. ``onnx``,
``onnxscript`` and ``onnxruntime`` are needed only here (``pip install 'ganblocks[export]'``),
imported when used.
"""

from .graphs import GeneratorGraph as GeneratorGraph
from .graphs import TextEncoderGraph as TextEncoderGraph
from .onnx_export import FORMAT_VERSION as FORMAT_VERSION
from .onnx_export import OPSET as OPSET
from .onnx_export import ExportError as ExportError
from .onnx_export import export_onnx as export_onnx
from .onnx_runtime import OnnxTextToImage as OnnxTextToImage
from .onnx_runtime import read_model_json as read_model_json
from .parity import check_parity as check_parity

__all__ = ["export_onnx", "ExportError", "OnnxTextToImage", "read_model_json", "check_parity",
           "TextEncoderGraph", "GeneratorGraph", "FORMAT_VERSION", "OPSET"]
