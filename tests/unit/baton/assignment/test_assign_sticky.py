"""Sticky assignment: records from the same email domain go to the same owner across messages."""

from __future__ import annotations

from tests.support.configs import team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline

STICKY = "{key: email_domain, window_days: 30}"


def owners_by_record(pipeline: Pipeline) -> dict[str, str | None]:
    return {log.record_id: log.owner_id for log in pipeline.sink.published}


def test_same_domain_sticks_to_the_first_owner_across_messages(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=3, sticky=STICKY))
    for number in range(1, 5):
        pipeline.send([lead_event(number, Email=f"person{number}@acme.com")])
        pipeline.drain()
    pipeline.send([lead_event(5, Email="someone@globex.com")])
    pipeline.drain()

    owners = owners_by_record(pipeline)
    acme = {owners[f"00Q{n:012d}AAA"] for n in range(1, 5)}
    assert len(acme) == 1
    assert owners["00Q000000000005AAA"] not in acme
    sticky_reasons = [log.reasons for log in pipeline.sink.published if log.record_id == "00Q000000000002AAA"]
    assert any("sticky" in reason for reason in sticky_reasons[0])


def test_free_mail_domains_never_stick(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=2, sticky=STICKY))
    pipeline.send([lead_event(1, Email="a@gmail.com")])
    pipeline.drain()
    pipeline.send([lead_event(2, Email="b@gmail.com")])
    pipeline.drain()

    owners = owners_by_record(pipeline)
    assert owners["00Q000000000001AAA"] != owners["00Q000000000002AAA"]


def test_same_domain_inside_one_batch_sticks(pipeline: Pipeline) -> None:
    pipeline.apply(team_config(members=3, sticky=STICKY))
    pipeline.send([lead_event(n, Email=f"p{n}@initech.io") for n in range(1, 4)])
    pipeline.drain()

    assert len(set(owners_by_record(pipeline).values())) == 1
