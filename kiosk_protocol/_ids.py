"""The characters a shopper id and a display name may hold: one rule each, wherever they arrive.

A shopper id (events, profile requests, the API's paths) and a display name (events,
profiles, the API) are refused, never normalised, when they hold anything else. Each rule is
a regex too (``SHOPPER_PATTERN``, ``DISPLAY_NAME_PATTERN``), so pydantic, Python and an
OpenAPI client read the same one; ``ShopperId`` and ``DisplayName`` are the types the
contract's messages use.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field


def _shopper_id_codes() -> list[int]:
    """The characters a shopper id may hold (Basic Multilingual Plane only).

    Printable, and already in NFC whatever their neighbours: no control, format, surrogate,
    private-use, unassigned or separator characters (a space included), no combining mark,
    none that NFC changes or composes with the character before it, no '/' and no U+FFFD
    (what an undecodable ``%FF`` in a URL becomes, so raw ids never collide on it).
    """
    composes: set[int] = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul vowels, finals
    for code in range(0x10000):
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            composes.add(int(parts[1], 16))

    def allowed(code: int) -> bool:
        char = chr(code)
        return (code not in composes and char not in "/\ufffd" and unicodedata.category(char)[0] not in "CZ"
                and not unicodedata.combining(char) and unicodedata.normalize("NFC", char) == char)

    return list(filter(allowed, range(0x10000)))


def _regex_class(codes: list[int]) -> str:
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return "[" + "".join(f"\\u{low:04x}" if low == high else f"\\u{low:04x}-\\u{high:04x}"
                         for low, high in ranges) + "]"


_SHOPPER_CODES = _shopper_id_codes()
# A shopper id, the same rule wherever one arrives (events, profile requests, the API's
# paths): 1 to 128 of the characters above, not starting with '.' (so never '.' or '..').
# One regex, understood alike by pydantic, Python and an OpenAPI client: an id is refused,
# never normalised, so two different raw ids can never name one profile.
SHOPPER_PATTERN = (f"^{_regex_class([code for code in _SHOPPER_CODES if code != ord('.')])}"
                   f"{_regex_class(_SHOPPER_CODES)}{{0,127}}$")
ShopperId = Annotated[str, Field(min_length=1, max_length=128, pattern=SHOPPER_PATTERN)]

# A display name is shown on screens: printable characters of the Basic Multilingual Plane
# (as a shopper id), nothing that moves or hides text (controls, bidi overrides and other
# format characters, line breaks), and no space at either end. The pattern says so to an
# OpenAPI client; the validator says which characters are wrong. Both test one predicate.
_UNFIT_IN_NAMES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
DISPLAY_NAME_MAX = 64


def _fits_in_name(char: str) -> bool:
    return ord(char) <= 0xFFFF and unicodedata.category(char) not in _UNFIT_IN_NAMES


_NAME_CODES = [code for code in range(0x10000) if _fits_in_name(chr(code))]
_NAME_ENDS = [code for code in _NAME_CODES if unicodedata.category(chr(code)) != "Zs"]
DISPLAY_NAME_PATTERN = f"^{_regex_class(_NAME_ENDS)}(?:{_regex_class(_NAME_CODES)}*{_regex_class(_NAME_ENDS)})?$"


def _fit_display_name(name: str) -> str:
    unfit = sorted({f"U+{ord(c):04X}" for c in name if not _fits_in_name(c)})
    if unfit:
        raise ValueError("a display name holds printable characters of the Basic Multilingual Plane, no control, "
                         f"format or line separator characters: not {', '.join(unfit)}")
    if unicodedata.category(name[0]) == "Zs" or unicodedata.category(name[-1]) == "Zs":
        raise ValueError("a display name may not start or end with a space")
    return name


DisplayName = Annotated[str, Field(min_length=1, max_length=DISPLAY_NAME_MAX,
                                   json_schema_extra={"pattern": DISPLAY_NAME_PATTERN}),
                        AfterValidator(_fit_display_name)]
