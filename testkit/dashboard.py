"""The fleet dashboard's sign-in, as staff do it in the browser tests."""

from __future__ import annotations

from playwright.sync_api import Page


def sign_in(page: Page, key: str) -> None:
    """Type ``key`` into the dashboard's sign-in form and send it (the page is open at /fleet/)."""
    page.get_by_label("Fleet key").fill(key)
    page.get_by_role("button", name="Sign in").click()
