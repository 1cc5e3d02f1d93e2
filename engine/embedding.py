"""Sentence features from a pre-trained sentence model (engine/sentence_encoder.py), for the lexical model.

Why: the count featurizers only know words and letters seen in training, so an everyday phrase said another
way ("negatory", "I owe you one") lands on whichever intent shares its letters. A model trained on a billion
sentence pairs puts such phrases near their meaning. It is an English model (az and ru texts still get a
vector, from sub-words, and the n-grams keep carrying those languages).

Only a sentence feature (one vector per message), no per-token sequence. LexicalBlend reads it
(`sentence_features`); config.yml keeps it from DIET and the response selector (their `featurizers` lists):
given it, both did worse on the development set (docs/benchmarks.md).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from engine.sentence_encoder import WEIGHTS_SHA256, SentenceEncoder
from engine.vector_cache import VectorCache, digest

RECENT = 4096  # texts whose vectors are kept while parsing (1.5 KB each)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    _shared: SentenceEncoder | None = None  # one per process: the training graph creates the node twice

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to check: the only options are the featurizer's alias."""

    @staticmethod
    def required_packages() -> list[str]:
        return ["tokenizers", "safetensors", "threadpoolctl"]

    def __init__(self, config: dict[str, Any], name: str, encoder: SentenceEncoder | None = None) -> None:
        super().__init__(name, {**self.get_default_config(), **config})
        self._encoder = encoder or self._shared_encoder()
        self._recent: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._kept = VectorCache.from_environment(WEIGHTS_SHA256)  # trainings: set by trainer.run_rasa

    @classmethod
    def _shared_encoder(cls) -> SentenceEncoder:
        if cls._shared is None:
            cls._shared = SentenceEncoder()
        return cls._shared

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        return cls(config, execution_context.node_name)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        messages = [m for m in training_data.training_examples if m.get(TEXT)]
        self._add(messages)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Parsing: the vectors of recent texts are kept (by the text's hash, not the text), since people
        write "hi", "thanks" and "yes" and press the same buttons over and over; each is 15 ms of CPU."""
        pending = []
        for message in (m for m in messages if m.get(TEXT) is not None):
            key = digest(message.get(TEXT))
            vector = self._recent.get(key)
            if vector is None:
                pending.append((key, message))
            else:
                self._recent.move_to_end(key)
                self._attach(message, vector)
        if pending:
            vectors = self._encoder.encode([m.get(TEXT) for _, m in pending])
            for (key, message), vector in zip(pending, vectors, strict=True):
                self._recent[key] = vector
                self._attach(message, vector)
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        return messages

    def _add(self, messages: list[Message]) -> None:
        if not messages:
            return
        texts = [m.get(TEXT) for m in messages]
        vectors = self._kept.vectors(texts, self._encoder.encode) if self._kept else self._encoder.encode(texts)
        for message, vector in zip(messages, vectors, strict=True):
            self._attach(message, vector)

    def _attach(self, message: Message, vector: np.ndarray) -> None:
        self.add_features_to_message(None, vector[np.newaxis, :], TEXT, message)
