"""The engine's entry point: Rasa's own command line, with per-message and start-up costs taken out.

    .venv-rasa/bin/python -m engine.serve run --model models/….tar.gz …   # same arguments as `rasa`
    .venv-rasa/bin/python -m engine.serve train …                         # training goes through it too

Both were found by profiling the engine at 100 users (benchmarks/profile.py); each replacement gives what
Rasa's code gives (tests/engine/test_engine_serve.py compares them) and hands anything unusual to Rasa's own code.
- Rasa checks every action server reply with `jsonschema.validate`, which first validates Rasa's constant
  response schema against JSON Schema's 2020-12 metaschema, every time: about a third of the engine's busy
  CPU. The schema is checked once here and its validator reused; a reply that fails goes through Rasa's
  method, so errors read the same.
- Rasa joins the featurizers' sparse features with `scipy.sparse.hstack`, a dozen times per message (per
  classifier, per feature type): 7% of the busy CPU, mostly SciPy's generic block handling. Two COO
  matrices are joined here directly, into the same arrays in the same order.

It also takes the API token from `ENGINE_AUTH_TOKEN` rather than the command line (see `with_auth_token`),
and the hop secrets from `ENGINE_HOP_SECRET` and `ACTIONS_HOP_SECRET` (core/hop_auth.py): the gateway
channel accepts only messages signed with the first, and every call to the action server is signed with the
second (see `authenticate_hops`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import zlib
from collections.abc import MutableMapping
from typing import Any

from core.hop_auth import ACTIONS_SECRET_VARIABLE, ENGINE_SECRET_VARIABLE, HopGuard, sign

log = logging.getLogger(__name__)


def validate_action_results_with_one_validator() -> None:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    rasa_validate = RemoteAction._validate_action_result

    def validate(self: RemoteAction, result: dict[str, Any]) -> bool:
        return True if validator.is_valid(result) else rasa_validate(self, result)

    RemoteAction._validate_action_result = validate


def combine_sparse_features_directly() -> None:
    import numpy as np
    import scipy.sparse
    from rasa.shared.nlu.training_data.features import Features

    rasa_combine = Features._combine_sparse_features

    def combine(self: Features, additional_features: Features) -> None:
        left, right = self.features, additional_features.features
        if (
            not (scipy.sparse.isspmatrix_coo(left) and scipy.sparse.isspmatrix_coo(right))
            or left.shape[0] != right.shape[0]
        ):
            return rasa_combine(self, additional_features)  # other formats, and Rasa's error for a mismatch
        self.features = scipy.sparse.coo_matrix(
            (
                np.concatenate([left.data, right.data]),
                (np.concatenate([left.row, right.row]), np.concatenate([left.col, right.col + left.shape[1]])),
            ),
            shape=(left.shape[0], left.shape[1] + right.shape[1]),
        )
        self._cached_fingerprint = None

    Features._combine_sparse_features = combine


# The launcher hands the engine's API token over here rather than on the command line: argv is readable by
# every local user (`ps`), and a token starting with "-" would read to Rasa's parser as an option.
TOKEN_VARIABLE = "ENGINE_AUTH_TOKEN"


def with_auth_token(argv: list[str], environ: MutableMapping[str, str]) -> list[str]:
    """argv with `--auth-token=<token>` from the environment (which then forgets it), unless argv has one."""
    token = environ.pop(TOKEN_VARIABLE, "")
    given = any(arg in ("-t", "--auth-token") or arg.startswith("--auth-token=") for arg in argv)
    return argv if not token or given else [*argv, f"--auth-token={token}"]


def sign_action_server_calls(secret: str) -> None:
    """Every request the engine makes through Rasa's endpoint client with a JSON body (in this configuration:
    the action calls, RemoteAction) goes out as the exact bytes that were signed. Deflate, when Rasa is asked
    to compress, is applied here first so that the signature covers what is sent."""
    from rasa.utils.endpoints import EndpointConfig

    rasa_request = EndpointConfig.request

    async def request(
        self: EndpointConfig,
        method: str = "post",
        subpath: str | None = None,
        content_type: str | None = "application/json",
        compress: bool = False,
        **kwargs: Any,
    ) -> Any:
        if "json" in kwargs:
            body = json.dumps(kwargs.pop("json")).encode()  # as aiohttp would serialise it
            headers = dict(kwargs.pop("headers", None) or {})
            if compress:
                body, headers["Content-Encoding"] = zlib.compress(body), "deflate"
            kwargs.update(data=body, headers={**headers, **sign(secret, body)})
            compress = False
        return await rasa_request(self, method, subpath, content_type, compress, **kwargs)

    EndpointConfig.request = request


def authenticate_hops(environ: MutableMapping[str, str]) -> None:
    """Takes both hop secrets out of the environment: the gateway channel checks messages with the first,
    the action calls are signed with the second. A missing secret leaves that hop refusing everything."""
    from engine.channel import GatewayInput

    inbound, outbound = environ.pop(ENGINE_SECRET_VARIABLE, ""), environ.pop(ACTIONS_SECRET_VARIABLE, "")
    GatewayInput.require_signatures(HopGuard("gateway -> engine", inbound or None))
    if outbound:
        sign_action_server_calls(outbound)
    for variable, secret in ((ENGINE_SECRET_VARIABLE, inbound), (ACTIONS_SECRET_VARIABLE, outbound)):
        if not secret:
            log.warning("%s is not set: that hop refuses every request", variable)


def load_models_without_a_training_step() -> None:
    """Rasa builds a loaded DIET/ResponseSelector's weights by fitting it on one example, which traces the
    whole training step (forward, backward, optimiser): about 40% of the engine's start-up. Prediction
    needs only the forward variables: they are built by one eager prediction, then the saved weights are
    restored into them and the model is prepared and traced for prediction as Rasa does. Fine-tuning
    (which needs the optimiser's state) and calls without a prediction example go to Rasa's code."""
    import tensorflow as tf
    from rasa.utils.tensorflow.models import RasaModel
    from rasa.utils.train_utils import create_data_generators

    rasa_load = RasaModel.load.__func__

    def load(
        cls,
        model_file_name,
        model_data_example,
        predict_data_example=None,
        finetune_mode=False,
        *args: Any,
        **kwargs: Any,
    ) -> RasaModel:
        if finetune_mode or predict_data_example is None:
            return rasa_load(
                cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs
            )
        model = cls(*args, **kwargs)
        config = kwargs.get("config", {})
        model.compile(
            optimizer=tf.keras.optimizers.Adam(config.get("learning_rate", 0.001)),
            run_eagerly=config.get("run_eagerly"),
        )
        generator, _ = create_data_generators(predict_data_example, batch_sizes=1, epochs=1, shuffle=False)
        model._training = False
        model.prepare_for_predict()  # eagerly: builds the label side
        model.predict_step(next(iter(generator))[0])  # eagerly: builds the text side
        # The checkpoint also holds training-only state (optimiser slots, masking layers): not needed here.
        model.load_weights(model_file_name).expect_partial()
        model.prepared_for_prediction, model._tf_predict_step = False, None  # forget the random-weight run
        model.run_inference(predict_data_example)  # as Rasa's load ends: prepare and trace for prediction
        return model

    RasaModel.load = classmethod(load)


def patch_rasa() -> None:
    """Everything above, for any process that runs Rasa's code (the engine, training, the benchmarks)."""
    # Before Rasa: importing skops looks up NumPy's functions in every loaded module, 6 s once TensorFlow's
    # thousands of modules are in (the lexical component needs skops anyway).
    import skops.io  # noqa: F401

    validate_action_results_with_one_validator()
    combine_sparse_features_directly()
    load_models_without_a_training_step()


def main() -> Any:
    sys.argv = with_auth_token(sys.argv, os.environ)
    patch_rasa()
    if sys.argv[1:2] == ["run"]:
        authenticate_hops(os.environ)
    from rasa.__main__ import main as rasa_main

    return rasa_main()


if __name__ == "__main__":
    sys.exit(main())
