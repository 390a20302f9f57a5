"""The API key file: plain channel keys, and keys given a role (a store's staff, HQ)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hq import ApiKeys, CredentialsError, Grant, KeyRole, load_api_keys
from hq._auth import new_api_key

STORE_KEY = new_api_key()


def written(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(data))
    return path


def test_plain_keys_are_channels_and_hq_s_own_name_may_use_the_fleet(tmp_path: Path) -> None:
    keys = load_api_keys(written(tmp_path, {"web": new_api_key(), "hq": new_api_key()}))
    assert keys.grant("web") == Grant(KeyRole.CHANNEL)
    assert keys.grant("hq") == Grant(KeyRole.HQ)
    assert keys.may_use_fleet("hq") and not keys.may_use_fleet("web")


def test_a_store_key_acts_in_its_own_store_only(tmp_path: Path) -> None:
    keys = load_api_keys(written(tmp_path, {
        "web": new_api_key(),
        "madrid-staff": {"key": STORE_KEY, "role": "store", "store": "madrid-centro"},
        "ops": {"key": new_api_key(), "role": "hq"},
    }))
    staff = keys.grant("madrid-staff")
    assert keys.channel_for(STORE_KEY) == "madrid-staff"
    assert staff.may_act_in("madrid-centro") and not staff.may_act_in("barcelona-diagonal")
    assert not keys.may_use_fleet("madrid-staff")
    assert keys.may_use_fleet("ops")
    assert keys.grant("web").may_act_in("barcelona-diagonal")  # a sales channel serves every store


@pytest.mark.parametrize("entry", [
    {"key": STORE_KEY, "role": "store"},  # a store key without its store
    {"key": STORE_KEY, "role": "channel", "store": "madrid-centro"},  # a store on a key of another role
    {"key": STORE_KEY, "role": "store", "store": "Madrid Centro"},  # not a store id
    {"key": STORE_KEY, "role": "owner"},  # no such role
    {"key": STORE_KEY, "role": "store", "store": "madrid-centro", "admin": True},  # an unknown field
    {"role": "store", "store": "madrid-centro"},  # no key
    {"key": 12345, "role": "channel"},
    ["a", "list"],
])
def test_a_key_file_entry_that_is_unfit_is_refused_by_name(tmp_path: Path, entry: object) -> None:
    with pytest.raises(CredentialsError, match="madrid-staff"):
        load_api_keys(written(tmp_path, {"web": new_api_key(), "madrid-staff": entry}))


def test_a_short_key_in_the_keyed_form_is_refused_like_a_plain_one(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="shorter than 22"):
        load_api_keys(written(tmp_path, {"madrid-staff": {"key": "short", "role": "store", "store": "madrid-centro"}}))


def test_a_grant_for_a_name_without_a_key_is_refused() -> None:
    with pytest.raises(CredentialsError, match="no key"):
        ApiKeys({"web": new_api_key()}, grants={"ghost": Grant(KeyRole.HQ)})
