"""What the dashboard's analytics page needs beside the answers: the stores its caller may pick.

``GET /fleet/api/analytics/stores`` lists the stores of HQ's catalog (id, name, time zone) that
the caller may see: every one for HQ's key or sign-in, its own only for a store's key (the
page then shows that store alone). A sales channel's key is refused, as by the answers.
"""

from collections.abc import Callable
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Request, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict

from hq._analytics import analytics_stores
from hq._api_models import error_responses
from hq._auth import KeyRole
from hq._guard import authenticated_grant
from hq.exceptions import ApiRefusal


class AnalyticsStore(BaseModel):
    """A store as HQ's catalog names it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    time_zone: str


class AnalyticsStores(BaseModel):
    """The stores the caller may pick, by name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stores: list[AnalyticsStore]
    only: str | None = None  # a store key's store: the one store it sees


def analytics_stores_router(engine: sa.Engine, api_key: APIKeyHeader,
                            refresh: Callable[[], None] = lambda: None) -> APIRouter:
    """``GET /fleet/api/analytics/stores``; ``refresh`` takes a changed catalog's stores first."""
    router = APIRouter(prefix="/fleet/api/analytics", tags=["analytics"])

    @router.get("/stores", responses=error_responses(e401="Not signed in", e403="Neither an HQ key nor a store key"))
    def stores(request: Request, key: Annotated[str | None, Security(api_key)] = None) -> AnalyticsStores:
        """The stores of HQ's catalog the caller may count: all for HQ, its own for a store key."""
        grant = authenticated_grant(request)
        if grant.role not in (KeyRole.HQ, KeyRole.STORE):
            raise ApiRefusal(403, "forbidden", "analytics are for HQ and store keys")
        refresh()
        t = analytics_stores
        query = sa.select(t.c.store, t.c.name, t.c.time_zone).order_by(t.c.name, t.c.store)
        if grant.store is not None:
            query = query.where(t.c.store == grant.store)
        with engine.connect() as db:
            known = [AnalyticsStore(id=row.store, name=row.name, time_zone=row.time_zone) for row in db.execute(query)]
        if grant.store is not None and not known:  # a store the catalog does not name (yet): still its own
            known = [AnalyticsStore(id=grant.store, name=grant.store, time_zone="UTC")]
        return AnalyticsStores(stores=known, only=grant.store)

    return router
