"""Training texts' sentence vectors kept between trainings (engine/vector_cache.py): only new texts are encoded,
and a damaged file costs time, never a wrong vector. Run in the engine's environment, where NumPy is."""

from __future__ import annotations

import pytest

from tests.support.engine_env import run_in_engine_env

pytestmark = pytest.mark.slow  # runs code in Rasa's environment

CACHE = """
import json, tempfile
from pathlib import Path
import numpy as np
from engine.vector_cache import VectorCache

encoded = []
def encode(texts):
    encoded.append(list(texts))
    return np.array([[len(t), sum(map(ord, t)) % 97, 1.0] for t in texts], dtype=np.float32)

folder = Path(tempfile.mkdtemp())
cache = VectorCache(folder / "cache", "ab" * 32)
first = cache.vectors(["hello", "how much is it", "hello"], encode)
second = cache.vectors(["how much is it", "a new way to ask", "hello"], encode)
same_as_fresh = bool(np.array_equal(second, encode(["how much is it", "a new way to ask", "hello"])))
encoded.pop()
# A smaller training in the same folder (a test's, a benchmark's) leaves the others' vectors in place.
cache.vectors(["something else entirely"], encode)
third = cache.vectors(["hello", "a new way to ask"], encode)
other_weights = VectorCache(folder / "cache", "cd" * 32).vectors(["hello"], encode)
cache.path.write_bytes(b"not an npz file")
damaged = cache.vectors(["hello"], encode)
print(json.dumps({
    "encoded": encoded, "first_shape": list(first.shape), "same_as_fresh": same_as_fresh,
    "third_shape": list(third.shape),
    "files": sorted(p.name for p in (folder / "cache").iterdir()),
    "damaged_right": bool(np.array_equal(damaged, encode(["hello"]))),
}))
"""


def test_only_texts_not_seen_before_are_encoded():
    found = run_in_engine_env(CACHE)
    assert found["first_shape"] == [3, 3]
    assert found["encoded"][:2] == [["hello", "how much is it"], ["a new way to ask"]]
    assert found["same_as_fresh"]
    assert found["encoded"][2] == ["something else entirely"] and found["third_shape"] == [2, 3]
    # Another encoder's weights: another file, so a vector never outlives the model that made it.
    assert found["encoded"][3] == ["hello"]
    assert len([name for name in found["files"] if name.endswith(".npz")]) == 2
    assert not [name for name in found["files"] if name.endswith(".tmp")]
    # A damaged file is read as empty: everything is encoded again, correctly.
    assert found["encoded"][4] == ["hello"] and found["damaged_right"]
