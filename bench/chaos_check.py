"""The checker of `make chaos`: every answer the fans got against what PostgreSQL counted.

Pure functions of the run's records, so tests/test_chaos_check.py can try them on a small
synthetic set. Every stored vote is tied to its fan by its keyed IP hash (each fan has its own
address), so a vote counted under a second voter id for the same fan shows up as a duplicate,
whatever cookie the resend carried.

- lost: a 202's receipt that is not a counted vote;
- duplicated: a fan counted more than once, or a tally above the count of counted votes;
- unexpected: a counted vote that no fan got a 202 for. Explained when its fan lost an answer
  (a broken connection or a 503 after its vote was in fact queued) and was counted once; the rest
  are unexplained. Both are reported.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from chaos_faults import Fault
from chaos_load import TRIES, Fan, Read, Send

WRITER_WINDOW_S = 5.0  # a writer kill's window: the kill and the few seconds after it
DRAINED_FLOOR = 50  # backlog entries: what votes in flight between two writer batches leave
SAMPLES = 5  # ids listed per kind of finding, so a failure can be looked up


@dataclass(frozen=True, slots=True)
class Stored:
    """One vote row of the run's category."""

    vote_id: str
    ip_hash: str
    counted: bool


def _status(send: Send) -> str:
    if send.status is None:
        return "error"
    return "503_edge" if send.from_edge else str(send.status)


def votes(fans: list[Fan], stored: list[Stored], tallied: int, ip_hash: Callable[[str], str]):
    """The set check: lost, duplicated, unexpected, over every fan of the run."""
    receipts = {s.receipt: fan.index for fan in fans for s in fan.sends if s.receipt}
    fan_by_hash = {ip_hash(fan.address): fan for fan in fans}
    counted = [vote for vote in stored if vote.counted]
    counted_ids = {vote.vote_id for vote in counted}
    per_fan: defaultdict[int, list[str]] = defaultdict(list)
    unexplained, explained = [], []
    for vote in counted:
        fan = fan_by_hash.get(vote.ip_hash)
        if fan is not None:
            per_fan[fan.index].append(vote.vote_id)
        if vote.vote_id in receipts:
            continue
        lost_answer = fan is not None and any(s.status != 202 for s in fan.sends)
        (explained if lost_answer else unexplained).append(vote.vote_id)
    twice = {index: ids for index, ids in per_fan.items() if len(ids) > 1}
    lost = sorted(set(receipts) - counted_ids)
    # A vote counted twice under one id would show in the tallies only.
    tally_excess = tallied - len(counted)
    fans_with_202 = sum(1 for fan in fans if any(s.status == 202 for s in fan.sends))
    # An unexpected vote of a fan counted twice is one of its duplicates, not explained.
    doubled = {vote_id for ids in twice.values() for vote_id in ids}
    explained = [vote_id for vote_id in explained if vote_id not in doubled]
    return {
        "fans": len(fans),
        "sends": sum(len(fan.sends) for fan in fans),
        "accepted_202": fans_with_202,
        "receipts": len(receipts),
        "counted": len(counted),
        "stored_not_counted": len(stored) - len(counted),
        "lost": len(lost),
        "duplicated": sum(len(ids) - 1 for ids in twice.values()) + max(0, tally_excess),
        "fans_counted_twice": len(twice),
        "tally_minus_counted": tally_excess,
        "unexpected": len(explained) + len(unexplained),
        "unexpected_explained": len(explained),
        "unexpected_unexplained": len(unexplained),
        "never_accepted": _never_accepted(fans),
        "answers": dict(sorted(Counter(_status(s) for f in fans for s in f.sends).items())),
        "202_without_receipt": [
            s.error for f in fans for s in f.sends if s.status == 202 and not s.receipt
        ][:SAMPLES],  # fmt: skip
        "samples": {
            "lost": lost[:SAMPLES],
            "counted_twice": [ids for ids in list(twice.values())[:SAMPLES]],
            "unexpected_unexplained": unexplained[:SAMPLES],
        },
    }


def _never_accepted(fans: list[Fan]) -> dict[str, int]:
    """Fans without a 202: after every try, stopped by the run's deadline, or refused (an
    answer that is not retried: 409, 422, ...)."""
    why: Counter[str] = Counter()
    for fan in fans:
        if any(s.status == 202 for s in fan.sends):
            continue
        last = fan.sends[-1].status if fan.sends else None
        if last not in (None, 429, 503):
            why["refused"] += 1
        else:
            why["gave_up" if len(fan.sends) >= TRIES else "stopped_by_deadline"] += 1
    return {"total": sum(why.values()), **dict(sorted(why.items()))}


def _window(fault: Fault) -> tuple[float, float]:
    assert fault.start is not None and fault.end is not None
    if fault.name == "writer_kill":
        return fault.start, fault.start + WRITER_WINDOW_S
    return fault.start, fault.end


def _gets(reads: Iterable[Read], start: float, end: float) -> dict:
    """GET success (200) during [start, end]: pages, the category page, fragments."""
    groups: dict[str, list[Read]] = {"pages": [], "category_page": [], "fragments": []}
    for read in reads:
        if start <= read.at <= end:
            groups["fragments" if read.kind == "fragment" else "pages"].append(read)
            if read.kind == "category":
                groups["category_page"].append(read)
    out = {}
    for name, group in groups.items():
        ok = sum(1 for read in group if read.status == 200)
        rate = round(ok / len(group), 4) if group else None
        out[name] = {"n": len(group), "ok": ok, "rate": rate}
    return out


def _answers(fans: list[Fan], start: float, end: float) -> dict[str, int]:
    """The votes' answers that came back during [start, end], by status."""
    found = Counter(_status(s) for f in fans for s in f.sends if start <= s.answered <= end)
    return dict(sorted(found.items()))


def _redis(fault: Fault, fans: list[Fan]) -> dict:
    """While down (kill until the new server answered PING): false 202s; then the first 202."""
    start, end = _window(fault)
    sends = [s for f in fans for s in f.sends if s.status == 202]
    false_202 = [s for s in sends if s.sent >= start and s.answered <= end]
    after = [s.answered for s in sends if s.answered > end]
    return {
        "false_202_while_down": len(false_202),
        "false_202_samples": [(round(s.sent, 3), round(s.answered, 3)) for s in false_202][:5],
        "202_answered_while_down": sum(1 for s in sends if start <= s.answered <= end),
        "first_202_after_back_s": round(min(after) - end, 3) if after else None,
    }


def _drained(fault: Fault, backlog: list[tuple[float, int | None]]) -> dict:
    """After PostgreSQL is back: seconds until the stream backlog is back in the range it had
    in the 10 s before the stop (its 90th percentile, at least DRAINED_FLOOR entries)."""
    start, end = _window(fault)
    before = sorted(n for t, n in backlog if start - 10 <= t < start and n is not None)
    level = max(DRAINED_FLOOR, before[int(0.9 * (len(before) - 1))] if before else 0)
    during = [n for t, n in backlog if start <= t and n is not None and t <= end]
    drained = next((t for t, n in backlog if t >= end and n is not None and n <= level), None)
    return {
        "backlog_before": level,
        "backlog_peak": max(during, default=None),
        "drained_after_back_s": round(drained - end, 3) if drained is not None else None,
    }


def per_fault(
    faults: list[Fault],
    fans: list[Fan],
    reads: list[Read],
    backlog: list[tuple[float, int | None]],
) -> list[dict]:
    """One row per fault (the writer kills folded into one): window, GETs, answers, recovery."""
    rows = []
    for fault in faults:
        if fault.start is None or fault.end is None:
            rows.append({"fault": fault.name, "planned_at": round(fault.at, 2), **fault.notes})
            continue
        start, end = _window(fault)
        row = {
            "fault": fault.name,
            "start_s": round(start, 3),
            "end_s": round(end, 3),
            "seconds": round(end - start, 3),
            "gets": _gets(reads, start, end),
            "answers": _answers(fans, start, end),
            **fault.notes,
        }
        if fault.name == "redis_kill":
            row |= _redis(fault, fans)
        if fault.name == "pg_stop":
            row |= _drained(fault, backlog)
        rows.append(row)
    return _fold_writer_kills(rows)


def _fold_writer_kills(rows: list[dict]) -> list[dict]:
    """The 20 writer kills as one row: their times, and their windows' GETs and answers summed."""
    kills = [row for row in rows if row["fault"] == "writer_kill"]
    if not kills:
        return rows
    answers: Counter[str] = Counter()
    gets: dict[str, dict] = {}
    for row in kills:
        answers.update(row.get("answers", {}))
        for name, g in row.get("gets", {}).items():
            total = gets.setdefault(name, {"n": 0, "ok": 0})
            total["n"] += g["n"]
            total["ok"] += g["ok"]
    for g in gets.values():
        g["rate"] = round(g["ok"] / g["n"], 4) if g["n"] else None
    folded = {
        "fault": "writer_kill",
        "count": len(kills),
        "at_s": [row.get("start_s") for row in kills],
        "window_s": WRITER_WINDOW_S,
        "gets": gets,
        "answers": dict(sorted(answers.items())),
    }
    others = [row for row in rows if row["fault"] != "writer_kill"]
    return [folded, *others]


def overall(reads: list[Read], fans: list[Fan]) -> dict:
    """The whole spike: GET success by kind, and every vote answer by status."""
    end = max([r.at for r in reads] + [s.answered for f in fans for s in f.sends], default=0.0)
    return {"gets": _gets(reads, 0.0, end), "answers": _answers(fans, 0.0, end)}
