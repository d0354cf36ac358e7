"""The no-JS receipt follows the vote: it refreshes itself while queued, and stops once counted."""

from __future__ import annotations

import re
import uuid

import pytest
import redis

from fanfare.app import create_ingest_app
from fanfare.infra import db
from fanfare.votes.stream import receipt_key

REFRESH = re.compile(r'<meta http-equiv="refresh" content="(\d+)">')


@pytest.fixture
def ingest(demo, redis_url, app_settings):
    app = create_ingest_app(app_settings(demo, redis_url))
    store = redis.Redis.from_url(redis_url)
    yield app.test_client(), store
    store.close()
    db.close(app)


def test_a_queued_receipt_refreshes_itself_until_counted(ingest):
    client, store = ingest
    receipt = str(uuid.uuid4())
    store.hset(receipt_key(receipt), mapping={"s": "queued", "c": 1, "n": 1})

    queued = client.get(f"/votes/{receipt}").get_data(as_text=True)
    store.hset(receipt_key(receipt), "s", "counted")
    counted = client.get(f"/votes/{receipt}").get_data(as_text=True)

    assert "Queued" in queued and 0 < int(REFRESH.search(queued).group(1)) <= 5
    assert "Counted" in counted and not REFRESH.search(counted)
    assert f'href="/votes/{receipt}/proof.json"' in counted  # the proof, once final
