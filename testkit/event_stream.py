"""A Server-Sent Events client for HQ's change stream (``/v1/changes/stream``): reads each
event or comment as it arrives."""

from __future__ import annotations

import json
from typing import Any

import httpx


class EventStream:
    """A Server-Sent Events client: reads each event or comment as it arrives."""

    def __init__(self, url: str, headers: dict[str, str], params: dict[str, int] | None = None,
                 timeout_s: float = 20.0) -> None:
        self._client = httpx.Client(timeout=timeout_s)
        self._request = self._client.stream("GET", f"{url}/v1/changes/stream", headers=headers,
                                            params=params)
        self.response = self._request.__enter__()
        assert self.response.status_code == 200, self.response.read()
        self._lines = self.response.iter_lines()

    def next(self) -> dict[str, str]:
        """The next event's fields (a comment as ``comment``); EOFError when the stream ends."""
        fields: dict[str, str] = {}
        for line in self._lines:
            if not line:
                if fields:
                    return fields
                continue
            name, _, value = line.partition(":")
            fields[name or "comment"] = value.removeprefix(" ")
        raise EOFError("the stream ended")

    def next_change(self) -> dict[str, Any]:
        """The next change, its id and event name checked; comments skipped."""
        while "comment" in (event := self.next()):
            pass
        change = json.loads(event["data"])
        assert (event["event"], event["id"]) == ("change", str(change["cursor"]))
        return dict(change)

    def close(self) -> None:
        self._request.__exit__(None, None, None)
        self._client.close()
