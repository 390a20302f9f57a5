"""Which of nfc-kiosk's extras this install has, and what to say when a command needs one.

A store tablet installs ``nfc-kiosk[kiosk]``, HQ's server ``nfc-kiosk[hq]``; the one
``kiosk`` command runs on both, so each subcommand checks its extras before it imports
anything from them. The package's own metadata says what each extra asks for.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from importlib import metadata

DISTRIBUTION = "nfc-kiosk"

# Where each extra belongs, for the message that names what is missing.
PLACES = {"kiosk": "on a store kiosk", "hq": "at HQ", "eval": "for offline evaluation"}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EXTRA_MARKER = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")


def required_by(extra: str, requirements: Iterable[str]) -> list[str]:
    """The distribution names that ``extra`` asks for among ``Requires-Dist`` lines."""
    names = []
    for requirement in requirements:
        _, _, marker = requirement.partition(";")
        found = _EXTRA_MARKER.search(marker)
        name = _NAME.match(requirement.strip())
        if found is not None and found.group(1) == extra and name is not None:
            names.append(name.group(0))
    return names


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


@functools.cache
def _requirements() -> tuple[str, ...]:
    try:
        return tuple(metadata.requires(DISTRIBUTION) or ())
    except metadata.PackageNotFoundError:
        return ()


def missing(extras: Sequence[str]) -> list[str]:
    """What this install lacks of ``extras``' distributions.

    Nothing when nfc-kiosk itself is not installed (run from a source tree): then there is
    no metadata to go by, and an import will say what is missing.
    """
    requirements = _requirements()
    wanted = [name for extra in extras for name in required_by(extra, requirements)]
    return [name for name in dict.fromkeys(wanted) if not _installed(name)]


def install_hint(extras: Sequence[str]) -> str:
    """The pip command that brings ``extras``."""
    return f"pip install '{DISTRIBUTION}[{','.join(extras)}]'"


def refusal(command: str, extras: Sequence[str], lacking: Sequence[str]) -> str:
    """Why ``command`` cannot run on this install, and the command that fixes it."""
    places = " and ".join(PLACES.get(extra, extra) for extra in extras)
    return f"`{command}` runs {places}; this install lacks {', '.join(lacking)}: {install_hint(extras)}"
