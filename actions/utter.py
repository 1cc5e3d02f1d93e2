"""Sending the gateway our messages (core/protocol.py) through Rasa's dispatcher."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from core import protocol


def utter(dispatcher: CollectingDispatcher, *messages: protocol.Message) -> None:
    for message in messages:
        dispatcher.utter_message(json_message=protocol.encode(message))
