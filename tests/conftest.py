"""Shared fixtures. End-to-end fixtures (trained model, running stack) live in tests/e2e_support.py."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from telegram_emulator.server import make_app

TOKEN = "123456789:test-token-for-the-emulator"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def emulator() -> AsyncIterator[str]:
    """A Bot API emulator on a free loopback port; yields its base URL."""
    runner = web.AppRunner(make_app())
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
