"""POST /v1/applications/batch: a queue's backlog in one request and one commit,
with each item's Idempotency-Key meaning what it means on POST /v1/applications."""
from __future__ import annotations

import threading
import uuid

import pytest
import requests

from central import intake as central_intake
from central.schemas import BATCH_MAX_ITEMS
from central.testing import run_server
from kiosk.platform import FinalError, PlatformClient, RetryableError
from tests.test_central_intake import application, claim_event, post


@pytest.fixture
def platform(central_db):  # SQLite and PostgreSQL
    with run_server(central_db.db, pepper_path=central_db.pepper) as running:
        yield running


@pytest.fixture
def client(platform):
    return PlatformClient(platform.base_url, platform.token, timeout=10)


def keyed(*bodies):
    return [(str(uuid.uuid4()), body) for body in bodies]


def test_a_batch_is_recorded_in_order_and_replayed_whole(platform, client):
    items = keyed(application(), application(service_id="elderly-card"), application(pages=(b"other",)))
    first = client.create_applications(items)
    assert [type(o) for o in first] == [dict, dict, dict]
    numbers = [o["application_no"] for o in first]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3  # numbered in the kiosk's order
    assert platform.count("applications") == 3 and platform.count("materials") == 3
    assert client.create_applications(items) == first  # the same keys again: the first answers
    assert platform.count("applications") == 3


def test_a_key_means_the_same_alone_and_in_a_batch(platform, client):
    (alone_key, alone), (batched_key, batched) = keyed(application(), application(service_id="elderly-card"))
    single = post(platform, "/v1/applications", alone, alone_key).json()
    assert client.create_applications([(alone_key, alone), (batched_key, batched)])[0] == single
    again = post(platform, "/v1/applications", batched, batched_key)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert platform.count("applications") == 2


def test_a_bad_item_is_refused_alone(platform, client):
    broken = application()
    del broken["applicant"]
    bad_page = application()
    bad_page["materials"][0]["pages"][0]["sha256"] = "0" * 64
    reused_key = str(uuid.uuid4())
    assert post(platform, "/v1/applications", application(), reused_key).status_code == 201
    items = [*keyed(application()), (str(uuid.uuid4()), broken), (str(uuid.uuid4()), bad_page),
             (reused_key, application(form={"phone": "13900139000"})), *keyed(application())]
    outcomes = client.create_applications(items)
    assert [type(o).__name__ for o in outcomes] == ["dict", "FinalError", "FinalError", "FinalError", "dict"]
    assert all(o.status == 422 for o in outcomes[1:4])
    assert "applicant" in str(outcomes[1]) and "王秀英" not in str(outcomes[1])  # names the field, not values
    assert "sha256" in str(outcomes[2]) and "different body" in str(outcomes[3])
    assert platform.count("applications") == 3


def test_a_key_still_processing_stops_the_batch_there(platform, client, monkeypatch):
    platform.set_faults(processing_delay_s=1.0)
    held_key, held_body = keyed(application())[0]
    claimed = claim_event(platform, monkeypatch)
    single = threading.Thread(target=post, args=(platform, "/v1/applications", held_body, held_key))
    single.start()
    assert claimed.wait(10)  # the single request holds its key in "processing"
    platform.set_faults()
    before, after = keyed(application(), application())
    outcomes = client.create_applications([before, (held_key, held_body), after])
    single.join()
    assert isinstance(outcomes[0], dict) and len(outcomes) == 2  # the item behind was not processed
    assert isinstance(outcomes[1], RetryableError) and outcomes[1].status == 409
    assert platform.count("applications") == 2  # the one before and the single request
    assert [type(o) for o in client.create_applications([(held_key, held_body), after])] == [dict, dict]
    assert platform.count("applications") == 3


def test_a_failure_mid_batch_records_nothing(platform, client, monkeypatch):
    real_intake, calls = central_intake.intake, []

    def failing_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the platform broke mid-batch")
        return real_intake(*args)
    monkeypatch.setattr(central_intake, "intake", failing_second)
    items = keyed(application(), application(), application())
    with pytest.raises(RetryableError) as failed:
        client.create_applications(items)
    assert failed.value.status == 500
    assert platform.count("applications") == 0 and platform.count("idempotency") == 0
    monkeypatch.setattr(central_intake, "intake", real_intake)
    again = PlatformClient(platform.base_url, platform.token, timeout=10)  # uvicorn closed the old connection
    assert all(isinstance(o, dict) for o in again.create_applications(items))
    assert platform.count("applications") == 3


def test_a_key_repeated_in_a_batch_is_a_repeat(platform, client):
    key, changed = str(uuid.uuid4()), str(uuid.uuid4())
    outcomes = client.create_applications([(key, application()), (changed, application()), (key, application()),
                                           (changed, application(form={"phone": "13900139000"}))])
    assert outcomes[0] == outcomes[2] and isinstance(outcomes[1], dict)
    assert isinstance(outcomes[3], FinalError) and "different body" in str(outcomes[3])
    assert platform.count("applications") == 2


def test_the_envelope_is_checked(platform, client):
    key = str(uuid.uuid4())
    too_many = keyed(*[application()] * (BATCH_MAX_ITEMS + 1))
    with pytest.raises(FinalError):
        client.create_applications(too_many)
    unauthenticated = requests.post(platform.base_url + "/v1/applications/batch",
                                    json={"items": [{"idempotency_key": key, "application": application()}]},
                                    timeout=10)
    assert unauthenticated.status_code == 401
    assert platform.count("applications") == 0
