"""Property-based fuzzing of HQ's HTTP API from its own OpenAPI document (schemathesis):
valid and invalid requests against a real PostgreSQL and Mosquitto; no answer is a 500,
and every answer fits the document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, PositiveDataAcceptanceConfig
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from hq import ApiKeys, BrokerSecurity, FleetView, KioskProvisioner, ProfileStore, create_app
from hq._fleet import FleetThresholds
from testkit.mosquitto import Mosquitto

KEYS = {"web": "web-key-0123456789abcdef", "hq": "hq-key-0123456789abcdef0"}
AS_HQ = {"X-Api-Key": KEYS["hq"]}  # the fleet channel may call every route


MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
# Each mode's operations in shards, each a test of its own: its time budget and its worker.
SHARDS = 4
# A rule across parameters that no schema can say: analytics' `from` must not be after `to`, nor a year
# before it. Their 422 `invalid_range` is the right answer to a valid-looking pair that breaks it.
CROSS_FIELD_RULES = ("/fleet/api/analytics/",)


def sent_as_made(case: schemathesis.Case) -> bool:
    """Whether each path value reaches HQ as generated: schemathesis unquotes a value before it
    quotes it, so a shopper id holding ``%c3`` arrives as U+FFFD, a case of the client, not of HQ."""
    return all(unquote(value) == value for value in (case.path_parameters or {}).values() if isinstance(value, str))


@pytest.fixture
def hq_schema(postgres_url: str, mosquitto: Mosquitto, tmp_path: Path,
              hq_key: tuple[object, Path]) -> Iterator[schemathesis.BaseSchema]:
    BrokerSecurity(tmp_path / "broker").init("HQ", ["127.0.0.1"])  # the enrolment routes give kiosks logins here
    enrolment = KioskProvisioner(tmp_path / "broker", "127.0.0.1", mosquitto.port, hq_key[1].read_text(),
                                 "https://hq.example.com/files")
    store = ProfileStore(postgres_url)
    fleet = FleetView(mosquitto.url, thresholds=FleetThresholds())
    fleet.start()
    assert fleet.subscribed.wait(10)
    # The checks send wrong keys on purpose, far more than an address may (429 is documented).
    app = create_app(store, ApiKeys(KEYS), broker_url=mosquitto.url, fleet=fleet, failure_rate="1000000/minute",
                     enrolment=enrolment)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # 410 Gone is the right answer to a change for a shopper erased earlier in the run.
    schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
        expected_statuses=[*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "410"])
    yield schema
    fleet.stop()
    store.close()


# schemathesis's pytest plugin does not run on pytest 9 yet; its Python API drives Hypothesis here.
@pytest.mark.parametrize("shard", range(SHARDS), ids=lambda shard: f"shard{shard + 1}of{SHARDS}")
@pytest.mark.parametrize("mode", MODES, ids=[mode.value for mode in MODES])
def test_no_request_makes_hq_fail_or_answer_outside_its_document(hq_schema: schemathesis.BaseSchema,
                                                                 mode: GenerationMode, shard: int) -> None:
    operations = sorted((result.ok() for result in hq_schema.get_all_operations() if isinstance(result, Ok)),
                        key=lambda operation: (operation.path, operation.method))
    assert len(operations) >= 10
    for operation in operations[shard::SHARDS]:
        if "text/event-stream" in operation.definition.raw["responses"].get("200", {}).get("content", {}):
            continue  # a stream answers for as long as the client listens (tests/test_changes_stream.py)
        if mode is GenerationMode.NEGATIVE and not {"parameters", "requestBody"} & set(operation.definition.raw):
            continue  # nothing to get wrong but the key, which the checks try anyway

        @given(case=operation.as_strategy(generation_mode=mode))
        # The same cases on every run: a gate judges the change, not the draw.
        @settings(max_examples=20, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            assume(sent_as_made(case))
            # A negative case may leave the key out on purpose: putting it back would turn the
            # case into a valid request that the checks still expect refused. Sent as made, it
            # must get the 401 it asks for; a case that carries a key gets the real one.
            negated_key = mode is GenerationMode.NEGATIVE and "X-Api-Key" not in (case.headers or {})
            ranged = case.operation.path.startswith(CROSS_FIELD_RULES)
            case.call_and_validate(headers=None if negated_key else AS_HQ,
                                   excluded_checks=[positive_data_acceptance] if ranged else None)

        call()
