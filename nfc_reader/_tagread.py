"""What one tap on the reader means to the rest of the kiosk."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TagKind(enum.Enum):
    """The kinds of tag a store uses."""

    PRODUCT = "product"
    SHOPPER_CARD = "shopper_card"
    STAFF_BADGE = "staff_badge"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class TagRead:
    """One tap: the tag's UID and what its content says.

    ``sku`` is set for product tags, ``token`` for cards and badges (still unverified),
    ``reason`` for unreadable tags.
    """

    kind: TagKind
    uid: str
    sku: str | None = None
    token: str | None = None
    reason: str | None = None

    @classmethod
    def unreadable(cls, uid: str, reason: str) -> TagRead:
        """A tap whose content could not be understood."""
        return cls(TagKind.UNREADABLE, uid, reason=reason)
