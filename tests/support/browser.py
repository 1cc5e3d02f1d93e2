"""Headless Chromium (Debian's) for the console's browser tests: the browser fixture, a logged-in page, and where
screenshots go."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from benchmarks.publishing import STAFF_PASSWORD

# As this machine's notes require: no background networking, no sandbox as root, a fresh profile.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Chromium is not installed: run scripts/setup.sh (it installs Debian's chromium)"
    return path


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser():
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()


async def logged_in(browser: Browser, base: str, user: str, path: str = "/entries/visa_evisa_asan") -> Page:
    """A page logged in as `user`, through a deep link to `path` (login first, then back there)."""
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.goto(f"{base}{path}")
    await expect(page).to_have_url(f"{base}/login" + ("" if path == "/" else f"?next={path}"))
    await page.get_by_label("User name").fill(user)
    await page.get_by_label("Password").fill(STAFF_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{base}{path}")
    return page
