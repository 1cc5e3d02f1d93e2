"""Running the assistant: the command line (`python -m assistant`), the launcher that starts every service
(the engines behind HAProxy), the rollout of new models to the engines, the terminal chat and key rotation."""
