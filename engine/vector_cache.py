"""Sentence vectors of the training texts, kept between trainings in a file beside the models.

Why: every training encodes all of its examples (13 000 and more, ~15 ms of CPU each: minutes), and a publish's
quick update adds a handful of texts to the same thousands. A vector depends only on its text and on the
encoder's weights, so the file is named after the weights' hash and only texts it lacks are encoded. It holds
texts' SHA-256, not the texts: the last training's first, then those of earlier trainings (the benchmarks' and the
tests' smaller ones share the folder) up to `LIMIT`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # NumPy is imported where it is used: the trainer, in our own environment, reads the names here
    import numpy as np

log = logging.getLogger(__name__)
DIRECTORY_VARIABLE = "ASSISTANT_SENTENCE_VECTORS"  # set by training/trainer.py for the trainings it runs
LIMIT = 40_000  # vectors kept (1.5 KB each): about three trainings' worth of distinct texts


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class VectorCache:
    def __init__(self, directory: Path, weights_sha256: str) -> None:
        self.path = directory / f"sentence-vectors-{weights_sha256[:16]}.npz"

    @classmethod
    def from_environment(cls, weights_sha256: str) -> VectorCache | None:
        directory = os.environ.get(DIRECTORY_VARIABLE)
        return cls(Path(directory), weights_sha256) if directory else None

    def vectors(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """One vector per text, as `encode` gives it, encoding only the texts the file does not hold; the file
        then holds these texts' vectors first."""
        import numpy as np

        keys = [digest(text) for text in texts]
        known = self._load()
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in known}
        if missing:
            known.update(zip(missing, encode(list(missing.values())), strict=True))
        result = np.stack([known[key] for key in keys]) if keys else np.zeros((0, 0), dtype=np.float32)
        if missing:
            kept = dict.fromkeys(keys) | dict.fromkeys(known)
            self._save({key: known[key] for key in list(kept)[:LIMIT]})
        log.info("sentence vectors: %d of %d texts encoded, the rest kept from earlier", len(missing), len(keys))
        return result

    def _load(self) -> dict[bytes, np.ndarray]:
        import numpy as np

        try:
            with np.load(self.path, allow_pickle=False) as stored:
                keys, vectors = stored["keys"], stored["vectors"]
            if keys.dtype != np.dtype("S32") or vectors.ndim != 2 or len(keys) != len(vectors):
                raise ValueError("unexpected layout")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError) as error:
            log.warning("sentence vectors not reused (%s): encoding every text", error)
            return {}
        return {bytes(key): vector for key, vector in zip(keys, vectors, strict=True)}

    def _save(self, vectors: dict[bytes, np.ndarray]) -> None:
        """Written to a temporary file and renamed over the old one: a training that reads it meanwhile, or one
        that stops half-way, never sees half a file."""
        import numpy as np

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".npz.tmp")
            with os.fdopen(handle, "wb") as file:
                np.savez(
                    file,
                    keys=np.array(list(vectors), dtype="S32"),
                    vectors=np.stack(list(vectors.values())).astype(np.float32),
                )
            os.replace(temporary, self.path)
        except OSError as error:
            log.warning("sentence vectors not kept for the next training: %s", error)
