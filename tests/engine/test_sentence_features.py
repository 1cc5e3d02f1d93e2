"""The pre-trained sentence model (engine/sentence_encoder.py), its featurizer (engine/embedding.py) and the
lexical model reading its vectors (engine/lexical.py). Run in the engine's environment, where they live."""

from __future__ import annotations

import pytest

from tests.support.engine_env import run_in_engine_env

pytestmark = pytest.mark.slow  # runs code in Rasa's environment: seconds of imports per test

ENCODER = """
import json, shutil, tempfile
from pathlib import Path
import numpy as np
from engine.sentence_encoder import DIMENSION, SentenceEncoder, model_directory

from threadpoolctl import threadpool_info

encoder = SentenceEncoder()
blas_threads = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
texts = ["thank you so much", "thanks a lot, that helped", "how do I extend my residence permit",
         "renewing a temporary residence permit", "where is the office", "", "🙂" * 3, "x" * 5000,
         "Salam, yaşayış icazəsi", "Здравствуйте, вид на жительство"]
together = encoder.encode(texts)
alone = np.stack([encoder.encode([t])[0] for t in texts])
cosine = together @ together.T
try:
    SentenceEncoder(expected_sha256="0" * 64)
    tampered = "accepted"
except ValueError as error:
    tampered = str(error)
try:
    model_directory("no_such_sentence_model_package")
    missing = "found"
except FileNotFoundError as error:
    missing = str(error)
print(json.dumps({
    "shape": list(together.shape), "dimension": DIMENSION, "dtype": str(together.dtype),
    "norms": [float(n) for n in np.linalg.norm(together, axis=1)],
    "batch_vs_alone": float(abs(together - alone).max()),
    "thanks": float(cosine[0, 1]), "permit": float(cosine[2, 3]),
    "thanks_vs_permit": float(cosine[0, 3]), "office_vs_thanks": float(cosine[4, 1]),
    "tokens_of_long": len(encoder.token_ids("x " * 5000)),
    "tampered": tampered, "missing": missing, "blas_threads": blas_threads,
}))
"""


@pytest.fixture(scope="module")
def encoder() -> dict:
    return run_in_engine_env(ENCODER)


def test_every_text_gets_a_unit_vector_whatever_it_is(encoder):
    assert encoder["shape"] == [10, encoder["dimension"]] and encoder["dtype"] == "float32"
    assert all(abs(n - 1) < 1e-4 for n in encoder["norms"])  # the empty text and emoji too
    assert encoder["tokens_of_long"] == 128  # a huge message is cut, not a crash or a slow parse


def test_batching_by_length_gives_the_same_vectors_as_one_by_one(encoder):
    assert encoder["batch_vs_alone"] < 1e-5


def test_paraphrases_are_nearer_than_unrelated_sentences(encoder):
    # What the model is for: the same meaning said differently is close, other topics far.
    # (0.45 and 0.65 against 0.11 and -0.02 with the published weights)
    assert encoder["thanks"] > 0.35 and encoder["permit"] > 0.5
    assert encoder["thanks_vs_permit"] < 0.2 and encoder["office_vs_thanks"] < 0.2


def test_the_engine_runs_blas_on_one_thread_once_the_encoder_is_loaded(encoder):
    # OpenBLAS's idle threads spin between a message's small products: 74 ms of CPU per 37 ms parse with two
    assert encoder["blas_threads"] and set(encoder["blas_threads"]) == {1}


def test_weights_that_are_not_the_published_model_are_refused(encoder):
    assert "sha256" in encoder["tampered"]
    assert "not installed" in encoder["missing"]


BLEND = """
import json
import numpy as np
from scipy.sparse import csr_matrix, hstack
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from engine.embedding import SentenceEmbeddingFeaturizer
from engine.lexical import LexicalBlend, Scorer, build, fit

class Storage:  # what LexicalBlend.train writes, kept in memory
    from contextlib import contextmanager
    @contextmanager
    def write_to(self, resource):
        import tempfile, pathlib
        with tempfile.TemporaryDirectory() as d:
            yield pathlib.Path(d)

texts = ["how much is the fee", "fee for a permit", "rüsum nə qədərdir", "сколько стоит пошлина",
         "hello", "salam", "привет", "hi there", "thanks a lot", "çox sağ ol", "спасибо", "much obliged"]
labels = ["faq/fee"] * 4 + ["greet"] * 4 + ["thanks"] * 4
featurizer = SentenceEmbeddingFeaturizer({}, "embedding")
examples = [Message(data={"text": t, "intent": l.split("/")[0],
                          **({"intent_response_key": l} if "/" in l else {})}) for t, l in zip(texts, labels)]
featurizer.process_training_data(TrainingData(examples))
dense = np.stack([m.get_dense_features(TEXT)[1].features.reshape(-1) for m in examples])

model = fit(build(100.0), texts, labels, dense)
scorer = Scorer(model)
theirs = model[-1].predict_proba(hstack([model[:-1].transform(texts), csr_matrix(dense)]).tocsr())
try:
    scorer(texts)
    without = "scored"
except ValueError as error:
    without = str(error)

blend = LexicalBlend({"sentence_features": 1.0, "intent_weight": 0.0}, Storage(), None)
blend.train(TrainingData(examples))
probe = [Message(data={"text": t, "intent": {"name": "greet", "confidence": 1.0},
                       "intent_ranking": [{"name": "greet", "confidence": 1.0}]})
         for t in ("I owe you one, thanks", "what is the fee")]
featurizer.process(probe)
blend.process(probe)
no_text = Message(data={"intent": {"name": "greet", "confidence": 1.0}})
blend.process([no_text])  # a message without text (a button payload) has no vector: zeros, no crash

untrained = LexicalBlend({"sentence_features": 1.0}, Storage(), None)
try:
    untrained.train(TrainingData([Message(data={"text": t, "intent": l}) for t, l in zip(texts, labels)]))
    unfeaturized = "trained"
except ValueError as error:
    unfeaturized = str(error)
print(json.dumps({
    "dense_width": scorer.dense_width, "difference": float(abs(scorer(texts, dense) - theirs).max()),
    "without": without, "unfeaturized": unfeaturized,
    "probe": [m.get("intent")["name"] for m in probe], "blend_width": blend._scorer.dense_width,
}))
"""


@pytest.fixture(scope="module")
def blended() -> dict:
    return run_in_engine_env(BLEND)


def test_the_fast_scorer_reads_the_sentence_vectors_as_scikit_learn_does(blended):
    assert blended["dense_width"] == 384
    assert blended["difference"] < 1e-9
    assert "384 sentence features" in blended["without"]


def test_lexical_blend_learns_from_the_featurizers_vectors(blended):
    assert blended["blend_width"] == 384
    # DIET said greet for both; with no share for DIET, the lexical model decides
    assert blended["probe"] == ["thanks", "faq"]


def test_a_pipeline_without_the_featurizer_is_a_clear_error(blended):
    assert "dense featurizer" in blended["unfeaturized"]


RECENT = """
import json
import numpy as np
import engine.embedding as embedding
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

class CountingEncoder:  # a fake: one vector per text from its length, and a count of what was encoded
    def __init__(self):
        self.encoded = []
    def encode(self, texts):
        texts = list(texts)
        self.encoded += texts
        return np.stack([np.full(4, float(len(t)), dtype=np.float32) for t in texts])

embedding.RECENT = 3
encoder = CountingEncoder()
featurizer = embedding.SentenceEmbeddingFeaturizer({}, "sentence", encoder)
def parse(*texts):
    messages = [Message(data={"text": t}) for t in texts]
    featurizer.process(messages)
    return [m.get_dense_features(TEXT)[1].features.reshape(-1).tolist() for m in messages]
first = parse("hi", "thanks")
again = parse("thanks", "hi", "hi")
parse("a", "bb")  # four texts now: "thanks" (least recent) is dropped, "hi" was used after it
parse("thanks", "hi")
print(json.dumps({"first": first, "again": again, "encoded": encoder.encoded,
                  "kept": len(featurizer._recent)}))
"""


def test_recent_texts_are_not_encoded_again():
    result = run_in_engine_env(RECENT)
    assert result["again"] == [result["first"][1], result["first"][0], result["first"][0]]
    # "hi" and "thanks" once, then "a" and "bb"; "thanks" again after it was dropped, "hi" not
    assert result["encoded"] == ["hi", "thanks", "a", "bb", "thanks"]
    assert result["kept"] == 3
