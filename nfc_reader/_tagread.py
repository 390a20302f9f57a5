"""What one tap on the reader means to the rest of the kiosk."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TagKind(enum.Enum):
    """The kinds of tag a store uses."""

    PRODUCT = "product"
    SHOPPER_CARD = "shopper_card"
    STAFF_BADGE = "staff_badge"
    OFFER = "offer"  # a sign: https://<shop>/o/<offer-id>
    UNREADABLE = "unreadable"


class TagSource(enum.Enum):
    """Which part of the tag said what it is."""

    URI_RECORD = "uri_record"  # https://<shop>/p/<sku> or https://<shop>/o/<offer-id>
    SMART_POSTER = "smart_poster"  # a Smart Poster whose URI is a product or offer address
    TEXT_RECORD = "text_record"  # a Text record holding a SKU, or a product or offer address
    PRODUCT_MIME = "product_mime"  # application/vnd.nfckiosk.product
    OFFER_MIME = "offer_mime"  # application/vnd.nfckiosk.offer
    CARD_MIME = "card_mime"  # application/vnd.nfckiosk.card
    BADGE_MIME = "badge_mime"  # application/vnd.nfckiosk.badge
    UID_TABLE = "uid_table"  # no usable NDEF: the staff-maintained UID -> SKU table


@dataclass(frozen=True)
class TagRead:
    """One tap: the tag's UID and what its content says.

    ``sku`` is set for product tags, ``offer`` (an offer id) for signs, ``token`` for cards
    and badges (still unverified: see ``check_identity``), ``reason`` for unreadable tags.
    ``source`` says which record (or the UID table) decided. ``host`` is the host of the
    address a sign carried (None from its MIME form): the reader does not know the shop, so
    the kiosk checks it.
    """

    kind: TagKind
    uid: str
    sku: str | None = None
    offer: str | None = None
    token: str | None = None
    reason: str | None = None
    source: TagSource | None = None
    host: str | None = None

    @classmethod
    def unreadable(cls, uid: str, reason: str) -> TagRead:
        """A tap whose content could not be understood."""
        return cls(TagKind.UNREADABLE, uid, reason=reason)
