"""``/v1/coauthors``: list, set by hand, delete; behind the bearer token."""

from __future__ import annotations

from .conftest import AUTH, Harness


async def test_a_coauthor_is_set_listed_replaced_and_deleted(harness: Harness) -> None:
    assert (await harness.get("/v1/coauthors")).json() == {"coauthors": []}
    body = {"author": "Ann Lee <ann@example.com>", "display_name": "Ann"}
    put = await harness.client.put("/v1/coauthors/slack/U1", json=body, headers=AUTH)
    assert put.status_code == 200, put.text
    assert put.json()["author"] == "Ann Lee <ann@example.com>"
    assert put.json()["source"] == "manual"
    again = {"author": "Ann <ann@home.example>"}
    await harness.client.put("/v1/coauthors/slack/U1", json=again, headers=AUTH)
    (listed,) = (await harness.get("/v1/coauthors")).json()["coauthors"]
    assert (listed["bridge"], listed["user"], listed["display_name"]) == ("slack", "U1", "Ann")
    assert listed["author"] == "Ann <ann@home.example>"
    gone = await harness.client.delete("/v1/coauthors/slack/U1", headers=AUTH)
    assert gone.status_code == 204
    assert (await harness.get("/v1/coauthors")).json() == {"coauthors": []}
    missing = await harness.client.delete("/v1/coauthors/slack/U1", headers=AUTH)
    assert missing.status_code == 404 and "U1" in missing.json()["error"]["message"]


async def test_a_malformed_author_is_refused_naming_the_field_and_the_form(
    harness: Harness,
) -> None:
    bad = {"author": "ann@example.com"}
    refused = await harness.client.put("/v1/coauthors/slack/U1", json=bad, headers=AUTH)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "author" and "Name <email>" in error["message"]


async def test_the_coauthors_need_the_token(harness: Harness) -> None:
    assert (await harness.client.get("/v1/coauthors")).status_code == 401
    body = {"author": "Eve <eve@example.com>"}
    assert (await harness.client.put("/v1/coauthors/slack/U1", json=body)).status_code == 401
