"""An exported generator, run with ONNX Runtime in plain Python: no ganblocks, no PyTorch model.

    python examples/stylegan_t/run_onnx.py exported/ "a red circle in the center" image.png
"""
# --8<-- [start:run]
import json, sys
import numpy as np, onnxruntime as ort
from open_clip.tokenizer import SimpleTokenizer  # CLIP's BPE tokenizer, as the model was trained with
from PIL import Image

folder, prompt, out = sys.argv[1], sys.argv[2], sys.argv[3]
meta = json.load(open(f"{folder}/model.json"))
tokenize = SimpleTokenizer(context_length=meta["tokenizer"]["context_length"])
text, generator = (ort.InferenceSession(f"{folder}/{meta[g]['file']}") for g in ("text_encoder", "generator"))
features = text.run(None, {"input_ids": tokenize([prompt]).numpy()})  # cache these per prompt
z = np.random.default_rng(0).standard_normal((1, meta["z_dim"])).astype(np.float32)
psi = np.full(1, meta["truncation_psi"], np.float32)
image = generator.run(None, {"z": z, "truncation_psi": psi, **dict(zip(meta["text_encoder"]["outputs"], features))})[0]
Image.fromarray(((image[0].clip(-1, 1) + 1) * 127.5).round().astype(np.uint8).transpose(1, 2, 0)).save(out)
# --8<-- [end:run]
