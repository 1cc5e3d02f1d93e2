"""Code loaded by the Rasa engine itself (its own Python 3.10 environment): keep it free of our deps.

Importing any of it (the engine does at start-up: the gateway channel, the redacting tracker store, the
LexicalBlend component) makes every log record of the engine pass through our redaction as it is created:
Rasa logs a failed message with its text, through handlers it installs itself."""

from core.privacy import redact_every_record

redact_every_record()
