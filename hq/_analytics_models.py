"""What HQ's analytics answer (``GET /fleet/api/analytics/{name}``): the same JSON for the
dashboard's analytics page and for scripts, one model per table.

Every answer names its range (``from`` and ``to``, local dates in each store's own time zone,
both included) and its store (``None``: every store the caller may see). Nothing here names
a shopper: analytics count visits and taps, never people.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    from_: date = Field(alias="from", description="The first local day counted.")
    to: date = Field(description="The last local day counted (included).")
    store: str | None = Field(description="The store counted; none: every store the key may see.")


class TopProduct(BaseModel):
    """One product's taps over the range, and what came of them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    name: str = Field(description="Its name in HQ's catalog (Spanish, as the catalog's first language); '' if unknown.")
    category: str = Field(description="Its category in HQ's catalog; '' if unknown.")
    taps: int = Field(description="Product views: its tag tapped, or its suggestion touched.")
    visits: int = Field(description="Visits in which it was looked at.")
    wishlisted: int = Field(description="Of those visits, the ones that put it on the wishlist (then or after).")
    reserved: int = Field(description="Of those visits, the ones that reserved it.")
    ordered: int = Field(description="Of those visits, the ones followed by an order with it.")
    conversion: float = Field(description="ordered / visits (0 when no visit).")


class TopProducts(_Answer):
    rows: list[TopProduct]


class HourCount(BaseModel):
    """Taps and visits in one hour of the day (the store's local clock), summed over the range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hour: int = Field(ge=0, le=23)
    taps: int
    visits: int = Field(description="Visits that started in this hour.")


class Hourly(_Answer):
    rows: list[HourCount] = Field(description="24 rows, hour 0 to 23, hours without taps included.")


class FunnelStep(BaseModel):
    """How many visits got as far as this step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: str = Field(description="tap, suggestion, wishlist_or_reservation or order.")
    visits: int
    share: float = Field(description="visits / the first step's visits (0 when none).")


class Funnel(_Answer):
    steps: list[FunnelStep] = Field(description="tap → suggestion → wishlist_or_reservation → order, in that order.")


class VisitGroup(BaseModel):
    """Visits of one kind and how many of them converted (a wishlist item, a reservation or an order)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    visits: int
    converted: int
    conversion: float = Field(description="converted / visits (0 when none).")


class Lift(_Answer):
    with_suggestion: VisitGroup = Field(description="Visits that touched a suggestion.")
    without_suggestion: VisitGroup = Field(description="Visits that did not.")
    lift: float | None = Field(description="with / without conversion; none when the visits without converted none.")
    suggestions_shown: int = Field(description="Products shown as suggestions (impressions).")
    suggestion_taps: int = Field(description="Suggestions touched.")
    click_through: float = Field(description="suggestion_taps / suggestions_shown (0 when none was shown).")


class KioskUptime(BaseModel):
    """How much of its store's opening hours a kiosk was online."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store: str
    kiosk: str
    open_hours: float = Field(description="The store's opening hours in the range.")
    online_hours: float = Field(description="Of those, the hours the kiosk was online.")
    uptime: float = Field(description="online_hours / open_hours (0 when the store was not open).")


class Uptime(_Answer):
    rows: list[KioskUptime]


ANSWERS: dict[str, type[_Answer]] = {
    "top-products": TopProducts, "hourly": Hourly, "funnel": Funnel, "lift": Lift, "uptime": Uptime}
