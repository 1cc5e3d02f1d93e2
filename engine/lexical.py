"""A Rasa NLU component: TF-IDF + logistic regression, mixed into DIET's intents and the FAQ selector's ranking.

Why: on our data the two make different mistakes. DIET generalises over phrasing; word and character n-grams
with a linear model hold on to the exact terms of a question (fees, permit names, "FIN"), which is what tells
sixty FAQ entries apart. The mixture weights are chosen by cross-validation (benchmarks/nlu_accuracy.py),
never on the held-out set. Place it after DIETClassifier and ResponseSelector, before FallbackClassifier.

Its vectorizers read the text folded like the engine's tokens (engine/folding.py). The model is saved with
skops (no pickle), and loading refuses types outside scikit-learn, SciPy and NumPy, and functions other than
that folding.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from engine.blend import mix, split_fine
from engine.folding import fold

log = logging.getLogger(__name__)
_TRUSTED_MODULES = ("sklearn.", "scipy.", "numpy.", "builtins.")
_TRUSTED_FUNCTIONS = ("engine.folding.fold",)  # the vectorizers' preprocessor


def build(c: float = 10.0, solver: str = "lbfgs"):
    """The lexical model; also the benchmark's TF-IDF + LR baseline (benchmarks/tfidf_baseline.py).

    `lbfgs` fits one multinomial model; `liblinear` one binary model per label, whose scores scikit-learn
    normalises to sum to one."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="word", preprocessor=fold, ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", preprocessor=fold, ngram_range=(2, 4), sublinear_tf=True),
    )
    return make_pipeline(features, LogisticRegression(C=c, solver=solver, max_iter=2000))


def fit(pipeline: Any, texts: list[str], labels: list[str], dense: Any = None) -> Any:
    """Fits a `build()` pipeline; with `dense` ((n, d) sentence vectors, engine/embedding.py), its classifier
    reads the n-gram features and the vectors side by side (then `Scorer` needs the vectors too)."""
    if dense is None:
        return pipeline.fit(texts, labels)
    pipeline[-1].fit(_beside(pipeline[:-1].fit_transform(texts), dense), labels)
    return pipeline


def _beside(ngrams: Any, dense: Any) -> Any:
    """The n-gram features with the sentence vectors as further columns, as the classifier reads them."""
    from scipy.sparse import csr_matrix, hstack

    return hstack([ngrams, csr_matrix(dense)]).tocsr()


class Scorer:
    """`predict_proba` of a fitted `build()` pipeline, without scikit-learn's per-call cost.

    Why: scikit-learn multiplies the features by `coef_.T`, a Fortran-ordered view, and SciPy copies it
    into C order on every call (24 000+ features x 72 labels, ~17 MB): 3.6 ms of a parse for a product that
    takes 0.05 ms. The transposed weights are made contiguous once. Multinomial models only (lbfgs over
    more than two labels); anything else goes through scikit-learn unchanged."""

    def __init__(self, pipeline: Any) -> None:
        import numpy as np

        self._pipeline = pipeline
        self._features = pipeline[:-1]
        self.labels = [str(label) for label in pipeline.classes_]
        model = pipeline[-1]
        # Columns past the n-grams' are sentence vectors (`fit(..., dense=...)`).
        ngrams = sum(len(vectorizer.vocabulary_) for _, vectorizer in self._features[0].transformer_list)
        self.dense_width = model.coef_.shape[1] - ngrams
        multinomial = model.multi_class == "multinomial" or (
            model.multi_class == "auto" and model.solver != "liblinear" and len(self.labels) > 2
        )
        weights = np.ascontiguousarray(model.coef_.T) if multinomial else None
        self._weights = None if weights is None else weights[:ngrams]
        self._dense_weights = None if weights is None else weights[ngrams:]
        self._intercept = model.intercept_

    def __call__(self, texts: list[str], dense: Any = None) -> Any:
        """Label probabilities, one row per text; `dense`: the texts' sentence vectors, if it was fitted with them."""
        import numpy as np

        if self.dense_width and (dense is None or dense.shape != (len(texts), self.dense_width)):
            raise ValueError(f"this model needs {self.dense_width} sentence features per text")
        if self._weights is None:
            features = self._features.transform(texts)
            return self._pipeline[-1].predict_proba(_beside(features, dense) if self.dense_width else features)
        scores = np.asarray(self._features.transform(texts) @ self._weights) + self._intercept
        if self.dense_width:
            scores += dense @ self._dense_weights
        scores -= scores.max(axis=1, keepdims=True)  # softmax, as scikit-learn computes it
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores


def word_vectorizer(pipeline: Any) -> Any:
    """The word-level TfidfVectorizer of a `build()` pipeline (its first feature set)."""
    return pipeline[0].transformer_list[0][1]


def fine_label(message: Message) -> str | None:
    """`faq/<entry>` for knowledge-base questions, the intent otherwise."""
    return message.get("intent_response_key") or message.get("intent")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LexicalBlend(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_weight": 0.5,  # DIET's share of the intent probabilities
            "entry_weight": 0.5,  # the ResponseSelector's share of the FAQ entry ranking
            "retrieval_intent": "faq",
            "C": 10.0,
            "solver": "lbfgs",
            "ranking_length": 10,  # 0: report every label
            # A message of at least this many words, none of which the training data has, is not understood
            # (nlu_fallback) whatever the models say (0: off). See `unknown_words`.
            "unknown_words_fallback": 0,
            # > 0: the linear model also reads each message's dense sentence features (a featurizer such as
            # engine.embedding.SentenceEmbeddingFeaturizer must come before it), multiplied by this.
            "sentence_features": 0.0,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "skops"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Any = None,
        responses: dict[str, Any] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage, self._resource = model_storage, resource
        self._use(model)
        self._responses = responses or {}

    def _use(self, model: Any) -> None:
        """The fitted model and what is derived from it: the fast scorer and the known words."""
        self._model = model
        self._scorer = Scorer(model) if model is not None else None
        self._words = word_vectorizer(model) if model is not None else None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LexicalBlend:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        import skops.io as sio

        labelled = [(m, label) for m in training_data.intent_examples if m.get("text") and (label := fine_label(m))]
        examples, labels = [m for m, _ in labelled], [label for _, label in labelled]
        if len(set(labels)) < 2:
            log.warning("LexicalBlend: fewer than two labels to learn; the component will pass messages through")
            return self._resource
        dense = self._sentence_features(examples)
        self._use(
            fit(build(self._config["C"], self._config["solver"]), [m.get("text") for m in examples], labels, dense)
        )
        prefix = f"utter_{self._config['retrieval_intent']}/"
        self._responses = {k[len("utter_") :]: v for k, v in training_data.responses.items() if k.startswith(prefix)}
        with self._storage.write_to(self._resource) as directory:
            sio.dump(self._model, directory / "lexical.skops")
            (directory / "responses.json").write_text(json.dumps(self._responses, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LexicalBlend:
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as directory:
                path = directory / "lexical.skops"
                untrusted = sio.get_untrusted_types(file=path)
                foreign = [t for t in untrusted if not t.startswith(_TRUSTED_MODULES) and t not in _TRUSTED_FUNCTIONS]
                if foreign:
                    raise ValueError(f"refusing to load types {foreign}")
                model = sio.load(path, trusted=untrusted)
                responses = json.loads((directory / "responses.json").read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError) as error:
            log.warning("LexicalBlend not loaded (%s): passing DIET's predictions through", error)
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, model, responses)

    def process(self, messages: list[Message]) -> list[Message]:
        if self._scorer is None:
            return messages
        texts = [m.get("text") or "" for m in messages]
        probabilities = self._scorer(
            texts, self._sentence_features(messages, self._scorer.dense_width) if self._scorer.dense_width else None
        )
        labels = self._scorer.labels
        for message, text, row in zip(messages, texts, probabilities, strict=True):
            if text.strip() and not text.startswith("/"):
                self._blend(message, dict(zip(labels, (float(p) for p in row), strict=True)))
                if self.unknown_words(text):
                    self._not_understood(message)
        return messages

    def _sentence_features(self, messages: list[Message], width: int = 0) -> Any:
        """(n, d) dense sentence features of the messages times `sentence_features`, or None when that is 0.
        A message without them (no text) gets zeros of `width`; in training (width 0) it is a config error."""
        import numpy as np

        scale = float(self._config["sentence_features"])
        if not scale:
            return None
        rows = []
        for message in messages:
            _, sentence = message.get_dense_features(TEXT)
            if sentence is None and width:
                rows.append(np.zeros(width, dtype=np.float32))
                continue
            if sentence is None:
                raise ValueError(
                    "LexicalBlend: sentence_features is set but a message has no dense sentence "
                    "features: put a dense featurizer (engine.embedding) before it in the pipeline"
                )
            rows.append(np.asarray(sentence.features, dtype=np.float32).reshape(-1))
        return np.stack(rows) * np.float32(scale)

    def unknown_words(self, text: str) -> bool:
        """Whether `text` has at least `unknown_words_fallback` words and the training data none of them.

        Why: both models always pick some label, and with many everyday out-of-scope examples they read
        gibberish or a language we do not speak (Uzbek, Tajik) as "out of scope" with confidences of
        0.35-0.62, so it was never "not understood" and never reached a person. A word or two alone are left
        to the models: often a greeting or typos they read rightly ("heyo", "big thannks")."""
        minimum = self._config["unknown_words_fallback"]
        if not minimum or self._words is None:
            return False
        words = self._words.build_tokenizer()(self._words.build_preprocessor()(text))
        return len(words) >= minimum and not any(word in self._words.vocabulary_ for word in words)

    @staticmethod
    def _not_understood(message: Message) -> None:
        """nlu_fallback first; the models' ranking stays after it (the fallback action logs the runner-up)."""
        ranking = [
            {"name": "nlu_fallback", "confidence": 1.0},
            *[i for i in message.get("intent_ranking") or [] if i.get("name") != "nlu_fallback"],
        ]
        message.set("intent", ranking[0], add_to_output=True)
        message.set("intent_ranking", ranking, add_to_output=True)

    def _blend(self, message: Message, fine: dict[str, float]) -> None:
        retrieval = self._config["retrieval_intent"]
        lexical_intents, lexical_entries = split_fine(fine, retrieval)
        learned = {i["name"]: float(i["confidence"]) for i in message.get("intent_ranking") or []}
        if not learned and message.get("intent"):
            learned = {message.get("intent")["name"]: float(message.get("intent")["confidence"])}
        ranking = mix(learned, lexical_intents, self._config["intent_weight"])
        length = self._config["ranking_length"] or None
        message.set("intent", {"name": ranking[0][0], "confidence": ranking[0][1]}, add_to_output=True)
        message.set("intent_ranking", [{"name": k, "confidence": v} for k, v in ranking[:length]], add_to_output=True)

        selectors = message.get("response_selector") or {}
        selector = selectors.get(retrieval)
        if not selector:
            return
        prefix = f"{retrieval}/"
        selected = {
            r["intent_response_key"][len(prefix) :]: float(r["confidence"])
            for r in selector.get("ranking") or []
            if str(r.get("intent_response_key")).startswith(prefix)
        }
        entries = mix(selected, lexical_entries, self._config["entry_weight"])
        key, confidence = entries[0]
        full_key = f"{prefix}{key}"
        selector["ranking"] = [{"intent_response_key": f"{prefix}{k}", "confidence": v} for k, v in entries[:length]]
        selector["response"] = {
            **(selector.get("response") or {}),
            "intent_response_key": full_key,
            "confidence": confidence,
            "utter_action": f"utter_{full_key}",
            "responses": self._responses.get(full_key, []),
        }
        message.set("response_selector", {**selectors, retrieval: selector}, add_to_output=True)
