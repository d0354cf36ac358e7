"""The checker of `make chaos` (bench/chaos_check.py) on a small synthetic run: how it classifies
answers against stored votes, and what it reports per fault. No services: pure functions."""

from __future__ import annotations

import sys

from fanfare.settings import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import chaos_check  # noqa: E402
from chaos_check import Stored  # noqa: E402
from chaos_faults import Fault  # noqa: E402
from chaos_load import Fan, Read, Send  # noqa: E402


def ip_hash(ip: str) -> str:
    return f"h({ip})"


def fan(index: int, *sends: Send) -> Fan:
    return Fan(index=index, address=f"127.1.{index}.2", nominee=1, press=f"p{index}",
               sends=list(sends))  # fmt: skip


def ok(receipt: str, sent: float = 1.0, answered: float = 1.1) -> Send:
    return Send(sent, answered, 202, receipt)


def busy(sent: float = 0.5, answered: float = 0.6) -> Send:
    return Send(sent, answered, 503)


def vote(vote_id: str, index: int | None, counted: bool = True) -> Stored:
    return Stored(vote_id, ip_hash(f"127.1.{index}.2") if index is not None else "h(?)", counted)


def test_each_vote_is_classified_lost_duplicated_or_unexpected():
    fans = [
        fan(0, ok("a")),  # counted once: fine
        fan(1, ok("b")),  # 202 but never stored: lost
        fan(2, busy(), ok("c")),  # counted as c, and again as d under another voter: duplicated
        fan(3, busy(), busy()),  # gave up, but its first send was queued: unexpected, explained
        fan(4, Send(0.1, 0.2, None, error="ConnectionResetError"), ok("g")),  # g rejected: lost
    ]
    stored = [
        vote("a", 0), vote("c", 2), vote("d", 2), vote("e", 3),
        vote("f", None),  # no fan sent from this address: unexpected, unexplained
        vote("g", 4, counted=False),
    ]  # fmt: skip
    counted = sum(1 for v in stored if v.counted)

    check = chaos_check.votes(fans, stored, counted + 1, ip_hash)

    assert check["accepted_202"] == 4
    assert check["never_accepted"] == {"total": 1, "stopped_by_deadline": 1}
    assert check["counted"] == 5 and check["stored_not_counted"] == 1
    assert check["lost"] == 2 and set(check["samples"]["lost"]) == {"b", "g"}
    # d counted under fan 2 besides c, and one tally more than counted votes.
    assert check["fans_counted_twice"] == 1 and check["tally_minus_counted"] == 1
    assert check["duplicated"] == 2
    assert check["unexpected"] == 2
    assert check["unexpected_explained"] == 1 and check["unexpected_unexplained"] == 1
    assert check["samples"]["unexpected_unexplained"] == ["f"]
    assert check["answers"] == {"202": 4, "503": 3, "error": 1}


def test_a_clean_run_finds_nothing():
    fans = [fan(i, busy(), ok(f"r{i}")) for i in range(3)]
    stored = [vote(f"r{i}", i) for i in range(3)]

    check = chaos_check.votes(fans, stored, 3, ip_hash)

    assert (check["lost"], check["duplicated"], check["unexpected"]) == (0, 0, 0)


def test_per_fault_redis_window_false_202s_and_recovery():
    redis = Fault("redis_kill", at=10.0, start=10.0, end=12.0)
    fans = [
        fan(0, ok("a", sent=9.9, answered=10.2)),  # queued before the kill: not false
        fan(1, ok("b", sent=10.5, answered=11.0)),  # sent and answered while down: false
        fan(2, busy(sent=10.4, answered=10.5), ok("c", sent=12.4, answered=12.5)),
    ]

    (row,) = chaos_check.per_fault([redis], fans, [], [])

    assert row["false_202_while_down"] == 1 and row["false_202_samples"] == [(10.5, 11.0)]
    assert row["202_answered_while_down"] == 2
    assert row["first_202_after_back_s"] == 0.5
    assert row["answers"] == {"202": 2, "503": 1}


def test_per_fault_gets_and_backlog_drain():
    frozen = Fault("web_freeze", at=20.0, start=20.0, end=40.0)
    stopped = Fault("pg_stop", at=50.0, start=50.0, end=58.0)
    reads = [
        Read("home", 25.0, 200, 0.01),
        Read("category", 26.0, 200, 0.01),
        Read("fragment", 27.0, 503, 0.01),
        Read("fragment", 28.0, 200, 0.01),
        Read("home", 45.0, None, 10.0),  # outside both windows
    ]
    backlog = [(t, 20) for t in range(40, 50)] + [(52, 900), (57, 2000), (59, 800), (61, 40)]

    freeze, stop = chaos_check.per_fault([frozen, stopped], [], reads, backlog)

    assert freeze["gets"]["pages"] == {"n": 2, "ok": 2, "rate": 1.0}
    assert freeze["gets"]["category_page"] == {"n": 1, "ok": 1, "rate": 1.0}
    assert freeze["gets"]["fragments"] == {"n": 2, "ok": 1, "rate": 0.5}
    assert stop["backlog_peak"] == 2000 and stop["backlog_before"] == 50
    assert stop["drained_after_back_s"] == 3.0


def test_writer_kills_fold_into_one_row():
    kills = [Fault("writer_kill", at=t, start=t, end=t + 0.1) for t in (1.0, 10.0)]
    fans = [fan(0, ok("a", sent=2.0, answered=2.1)), fan(1, ok("b", sent=8.0, answered=8.1))]

    (row,) = chaos_check.per_fault(kills, fans, [Read("home", 3.0, 200, 0.01)], [])

    assert row["count"] == 2 and row["at_s"] == [1.0, 10.0]
    assert row["answers"] == {"202": 1}  # only 2.1 falls within 5 s of a kill
    assert row["gets"]["pages"] == {"n": 1, "ok": 1, "rate": 1.0}
