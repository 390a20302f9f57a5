"""A kiosk software release: the wheels HQ signed under a ``software`` manifest, and
``release.json`` saying what they are.

    release.json              {"v": 1, "label": "1.4.2", "health_window_s": 180}
    wheels/<file>.whl         the release's wheels (the kiosk's own, and any dependency it changes)

A kiosk installs the wheels beside the version it runs, switches, and must prove itself
healthy within ``health_window_s`` or it switches back on its own.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kiosk_protocol.exceptions import CatalogError

RELEASE_FILE = "release.json"
WHEELS_DIR = "wheels"
HEALTH_WINDOW_S = 180  # unless a release says otherwise: the seconds a kiosk has to prove it healthy
# A wheel's file name (PEP 427), lower-cased so it is a manifest path: name-version(-build)-py-abi-platform.whl
WHEEL_NAME = re.compile(r"^[a-z0-9_]+-[a-z0-9_.]+(-[0-9][a-z0-9_.]*)?-[a-z0-9_.]+-[a-z0-9_.]+-[a-z0-9_.]+\.whl$")


class SoftwareRelease(BaseModel):
    """What ``release.json`` says."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    v: Literal[1] = 1
    label: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,39}$")]  # the version people read
    health_window_s: int = Field(default=HEALTH_WINDOW_S, ge=30, le=3600)


def parse_release(data: bytes) -> SoftwareRelease:
    """Read ``release.json``.

    Raises:
        CatalogError: not a release description.
    """
    try:
        return SoftwareRelease.model_validate_json(data)
    except ValidationError as exc:
        raise CatalogError(f"not a release description: {exc.errors(include_url=False)[:3]}") from exc
