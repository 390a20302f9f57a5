"""The fleet view's alert round with a request watch: store alerts raised and cleared with a
change for its listeners, and a watch that fails keeps the last round's alerts and never
stops the round (which watches the kiosks too). No broker: the view is never started."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy.exc

from hq import Alert, AlertKind, FleetView, RequestAlerts, StoreAlerts
from hq._fleet import FleetChange

LATE = Alert(AlertKind.REQUEST_WAITING, "1 request not taken for 5 min or more (waiting since 18:00 UTC)")


class Source:
    """What the request watch answers, as the test sets it."""

    def __init__(self) -> None:
        self.answer: RequestAlerts | Exception = RequestAlerts()

    def __call__(self, known: Collection[tuple[str, str]]) -> RequestAlerts:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_store_alerts_come_and_go_with_a_change_each_and_survive_a_failing_watch() -> None:
    fleet, source = FleetView("mqtt://127.0.0.1:9"), Source()
    fleet.watch_requests(source)
    heard: list[FleetChange] = []
    fleet.listen(heard.append)
    fleet.recheck()
    assert heard == [] and fleet.store_alerts() == []

    source.answer = RequestAlerts(stores={"madrid-centro": LATE})
    fleet.recheck()
    fleet.recheck()  # the same alert again is no news
    assert heard == [StoreAlerts("madrid-centro", (LATE,))]
    assert fleet.store_alerts() == [StoreAlerts("madrid-centro", (LATE,))]

    for failure in (sqlalchemy.exc.OperationalError("SELECT", {}, Exception("gone")), RuntimeError("a bug")):
        source.answer = failure
        fleet.recheck()
        assert fleet.store_alerts() == [StoreAlerts("madrid-centro", (LATE,))]

    source.answer = RequestAlerts()
    fleet.recheck()
    assert heard[-1] == StoreAlerts("madrid-centro", ()) and fleet.store_alerts() == []
