"""The engine's entry point: Rasa's own command line, with one per-message cost taken out.

    .venv-rasa/bin/python -m engine.serve run --model models/….tar.gz …   # same arguments as `rasa`

Why: Rasa checks every action server reply with `jsonschema.validate`, which first validates Rasa's constant
response schema against JSON Schema's 2020-12 metaschema, every time. A py-spy profile of the engine at 100
users (benchmarks/latency.py) put about a third of the engine's busy CPU there. The schema is checked once
here and its validator reused; a reply that fails goes through Rasa's own method, so errors read the same.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, Text


def validate_action_results_with_one_validator() -> None:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    rasa_validate = RemoteAction._validate_action_result

    def validate(self: RemoteAction, result: Dict[Text, Any]) -> bool:
        return True if validator.is_valid(result) else rasa_validate(self, result)

    RemoteAction._validate_action_result = validate


def main() -> Any:
    validate_action_results_with_one_validator()
    from rasa.__main__ import main as rasa_main

    return rasa_main()


if __name__ == "__main__":
    sys.exit(main())
