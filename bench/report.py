"""Turn a run's measurements into the headline keys, the summary tables and the plots."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write files only
import matplotlib.pyplot as plt  # noqa: E402

SYSTEM_LABELS = {
    "fanfare": "fanfare ingest (through the edge)",
    "fanfare_direct": "fanfare ingest (direct)",
    "naive": "naive baseline (sync, INSERT per vote)",
    "ceiling": "Flask+gevent hello world",
}
BEGIN, END = "<!-- bench:summary:begin -->", "<!-- bench:summary:end -->"


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def _ingest_keys(ingest: dict) -> dict:
    """Ratios at the lowest concurrency, latency and timeouts through the edge, per concurrency."""
    out: dict[str, float | None] = {}
    edge, direct = ingest["fanfare"], ingest.get("fanfare_direct", ingest["fanfare"])
    low, high = min(edge, key=int), max(edge, key=int)
    ceiling, naive = ingest["ceiling"][low]["votes_per_s"], ingest["naive"][low]["votes_per_s"]
    out[f"ingest_votes_per_s_c{low}"] = edge[low]["votes_per_s"]
    out[f"ingest_direct_votes_per_s_c{low}"] = direct[low]["votes_per_s"]
    out["ingest_vs_ceiling"] = _ratio(direct[low]["votes_per_s"], ceiling)
    out["ingest_edge_vs_ceiling"] = _ratio(edge[low]["votes_per_s"], ceiling)
    out["ingest_vs_naive"] = _ratio(direct[low]["votes_per_s"], naive)
    # No answer at all has no latency: report it as the 2 s client timeout.
    out["ingest_p99_ms_c50"] = edge[low]["p99_ms"] or 2000.0
    for c, row in edge.items():
        out[f"timeouts_c{c}"] = row["timeouts"]
        if c != low:
            out[f"ingest_votes_per_s_c{c}"] = row["votes_per_s"]
            out[f"ingest_vs_naive_c{c}"] = _ratio(
                row["votes_per_s"], ingest["naive"][c]["votes_per_s"]
            )
            out[f"ingest_vs_ceiling_c{c}"] = _ratio(
                row["votes_per_s"], ingest["ceiling"][c]["votes_per_s"]
            )
    out["ingest_503_share_c2000"] = edge[high]["share_503"]
    # The probe beside wrk at the highest concurrency: None when nothing was shed.
    out["shed_p99_ms_c2000"] = edge[high].get("probe_p99_ms_503")
    return out


def headline(results: dict) -> dict:
    """The keys `make bench` promises, each a number (0 when its scenario did not run)."""
    out: dict[str, float | None] = {}
    ingest = results.get("ingest", {}).get("summary")
    if ingest:
        out.update(_ingest_keys(ingest))
    # Ingest's workers are watched in a (2,000 connections through the edge) and f (direct).
    rss = [
        *results.get("ingest", {}).get("ingest_rss_mb_by_worker", {}).values(),
        *results.get("memory", {}).get("ingest_rss_mb_by_worker", {}).values(),
    ]
    if rss:
        out["ingest_rss_mb"] = max(rss)
    web = results.get("memory", {}).get("web_rss_mb_by_worker")
    if web:
        out["web_rss_mb"] = max(web.values())
    audience = results.get("audience")
    if audience and audience.get("ratio_largest_vs_smallest") is not None:
        out["origin_ratio_2000_vs_10"] = audience["ratio_largest_vs_smallest"]
    drain = results.get("drain")
    if drain:
        out["drain_votes_per_s"] = drain["votes_per_s"]["1"]
        out["drain_votes_per_s_2_workers"] = drain["votes_per_s"]["2"]
    spike = results.get("spike")
    if spike:
        out["spike_accepted_votes"] = spike["accepted_votes"]
        out["spike_eventually_accepted"] = spike["eventually_accepted"]
        out["spike_timeouts"] = spike["timeouts"]
        out["spike_first_p99_ms"] = spike["first_p99_ms_worst_generator"]
        out["spike_503_429_share"] = spike["share_503_429"]
        out["spike_p99_ms"] = spike["p99_ms_worst_generator"]
        out["spike_drain_s"] = spike["drain_s_after_last_vote"]
        if out["spike_drain_s"] is None:
            out["spike_drain_s"] = -1
    for key in (
        "ingest_vs_naive",
        "ingest_vs_ceiling",
        "ingest_edge_vs_ceiling",
        "ingest_p99_ms_c50",
        "timeouts_c500",
        "timeouts_c2000",
        "origin_ratio_2000_vs_10",
        "drain_votes_per_s",
        "ingest_rss_mb",
    ):
        out.setdefault(key, 0)
    return out


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _ms(value: float | None) -> str:
    return "no answers" if value is None else f"{value:.1f}"


def _latency(value: float | None) -> str:
    return "none (no such answers)" if value is None else f"{value:.0f} ms"


def _verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _ingest_rows(h: dict, s: dict) -> list[tuple[str, str, str, bool]]:
    """Scenario a's targets (issue 12): ratios at 50 connections, latency, timeouts, shedding."""
    shed = h.get("shed_p99_ms_c2000")
    others = sorted(s["ingest"]["summary"]["fanfare"], key=int)[1:]
    return [
        (
            "Ingest (direct) vs Flask+gevent hello world, 50 connections",
            "≥ 60%",
            f"{h['ingest_vs_ceiling']:.0%}",
            h["ingest_vs_ceiling"] >= 0.6,
        ),
        (
            "Ingest through the edge vs hello world, 50 connections",
            "≥ 40%",
            f"{h['ingest_edge_vs_ceiling']:.0%}",
            h["ingest_edge_vs_ceiling"] >= 0.4,
        ),
        (
            "Ingest (direct) vs naive baseline, 50 connections",
            "≥ 2×",
            f"{h['ingest_vs_naive']:.2f}×",
            h["ingest_vs_naive"] >= 2,
        ),
        *(
            (
                f"Ingest (edge) vs naive / vs hello world, {_n(int(c))} connections",
                "≥ 3× / ≥ 60%",
                f"{h[f'ingest_vs_naive_c{c}']:.2f}× / {h[f'ingest_vs_ceiling_c{c}']:.0%}",
                h[f"ingest_vs_naive_c{c}"] >= 3 and h[f"ingest_vs_ceiling_c{c}"] >= 0.6,
            )
            for c in others
        ),
        (
            "Ingest p99 through the edge, 50 connections",
            "≤ 50 ms",
            f"{h['ingest_p99_ms_c50']:.1f} ms",
            h["ingest_p99_ms_c50"] <= 50,
        ),
        *(
            (
                f"Client timeouts through the edge, {_n(int(c))} connections (per round)",
                "0",
                _n(h[f"timeouts_c{c}"]),
                h[f"timeouts_c{c}"] == 0,
            )
            for c in others
        ),
        (
            "p99 of the 503 answers (shed), 2,000 connections",
            "≤ 200 ms",
            "no 503 answers" if shed is None else f"{shed:.1f} ms",
            shed is not None and shed <= 200,
        ),
    ]


def _target_rows(h: dict, s: dict) -> list[tuple[str, str, str, bool]]:
    """One row per target of the scenarios that ran: what, goal, measured, met."""
    rows = _ingest_rows(h, s) if "ingest" in s else []
    if "spike" in s:
        rows += [
            (
                "Spike: fans eventually accepted (retrying after Retry-After)",
                "≥ 99%",
                f"{h['spike_eventually_accepted']:.1%}",
                h["spike_eventually_accepted"] >= 0.99,
            ),
            ("Spike: client timeouts", "0", _n(h["spike_timeouts"]), h["spike_timeouts"] == 0),
        ]
    if "audience" in s:
        rows.append(
            (
                "Origin rate, 2,000 vs 10 pollers",
                "≤ 1.2×",
                f"{h['origin_ratio_2000_vs_10']:.2f}×",
                0 < h["origin_ratio_2000_vs_10"] <= 1.2,
            )
        )
    if "drain" in s:
        rows.append(
            (
                "Worker drain, one writer",
                "≥ 20,000 votes/s",
                f"{_n(h['drain_votes_per_s'])} votes/s (two: "
                f"{_n(h['drain_votes_per_s_2_workers'])})",
                h["drain_votes_per_s"] >= 20000,
            )
        )
    if "ingest" in s:
        rows.append(
            (
                "Ingest worker peak RSS, 2,000 connections",
                "≤ 150 MB",
                f"{h['ingest_rss_mb']:.0f} MB",
                0 < h["ingest_rss_mb"] <= 150,
            )
        )
    return rows


def summary_markdown(data: dict) -> str:
    """The tables the READMEs show."""
    h, s = data["headline"], data["scenarios"]
    meta = data["meta"]
    lines = [
        f"Measured {meta['finished_at']} on {meta['cpus']} cores ({meta['mode']} run, "
        f"{meta['duration_s']:.0f} s; load average before the run {meta['loadavg_before']}). "
        "Load generator (wrk) on the same cores. Medians of alternating rounds.",
        "",
        "| Target | Goal | Measured | Met |",
        "|---|---|---|---|",
    ]
    rows = _target_rows(h, s)
    lines += [f"| {a} | {b} | {c} | {_verdict(d)} |" for a, b, c, d in rows]
    if "ingest" in s:
        lines += [
            "",
            "**a. Ingest** (votes/s = 202 answers per second; p50 / p99 in ms; "
            "timeouts = no answer within 2 s)",
            "",
            "| System | Connections | Votes/s | p50 | p99 | Non-202 | Timeouts |",
            "|---|---|---|---|---|---|---|",
        ]
        for system, by_c in s["ingest"]["summary"].items():
            for c, row in by_c.items():
                lines.append(
                    f"| {SYSTEM_LABELS[system]} | {_n(int(c))} | {_n(row['votes_per_s'])} | "
                    f"{_ms(row['p50_ms'])} | {_ms(row['p99_ms'])} | {_n(row['non_202'])} | "
                    f"{_n(row['timeouts'])} |"
                )
    if "spike" in s:
        sp = s["spike"]
        lines += [
            "",
            f"**b. Spike** with fans who retry after Retry-After (up to 4 sends): "
            f"{_n(sp['fans'])} fans, {_n(sp['accepted_votes'])} votes accepted "
            f"({sp['eventually_accepted']:.1%} eventually), {sp['timeouts']} timeouts, "
            f"503/429 share of answers {sp['share_503_429']:.1%}; first-answer p99 "
            f"{_latency(sp['first_p99_ms_worst_generator'])}, 503 p99 "
            f"{_latency(sp['p99_ms_503_worst_generator'])} (worst of 4 generators); backlog "
            f"drained {sp['drain_s_after_last_vote']} s after the last vote; tallied "
            f"{_n(sp['tallied_votes'])}; browsing p99 {sp['browsing']['p99_ms']:.0f} ms meanwhile.",
        ]
    if "read_path" in s:
        rp = s["read_path"]["summary"]
        lines += [
            "",
            "**c. Read path** through the edge: "
            + ", ".join(
                f"{name.replace('_', ' ')} {_n(row['req_per_s'])} req/s "
                f"(hit ratio {row['hit_ratio']:.3f})"
                for name, row in rp.items()
            )
            + ".",
        ]
    if "audience" in s:
        au = s["audience"]["origin_req_per_s"]
        lines += [
            "",
            "**d. Audience**: origin requests/s for one results fragment: "
            + ", ".join(f"{_n(int(n))} pollers {v:.2f}" for n, v in au.items())
            + ".",
        ]
    if "memory" in s:
        lines += [
            "",
            f"**f. Memory**: peak RSS per worker at 2,000 connections: ingest "
            f"{h.get('ingest_rss_mb', 0):.0f} MB, web {h.get('web_rss_mb', 0):.0f} MB.",
        ]
    return "\n".join(lines) + "\n"


def update_readme(path: Path, markdown: str) -> None:
    """Replace the text between the summary markers, if the file has them."""
    text = path.read_text()
    if BEGIN not in text:
        return
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    path.write_text(pattern.sub(lambda _: f"{BEGIN}\n{markdown}{END}", text))


def plot(data: dict, path: Path) -> None:
    """One PNG, one panel per scenario."""
    s = data["scenarios"]
    fig, axes = plt.subplots(2, 4, figsize=(22, 10))
    fig.suptitle(
        f"fanfare bench, {data['meta']['finished_at']} ({data['meta']['mode']} run, "
        f"{data['meta']['cpus']} cores, wrk on the same cores)"
    )
    ax = axes.flat
    if "ingest" in s:
        _ingest_panels(s["ingest"]["summary"], ax[0], ax[1])
    if "spike" in s:
        _spike_panel(s["spike"], ax[2])
    if "read_path" in s:
        rp = s["read_path"]["summary"]
        ax[3].bar(list(rp), [row["req_per_s"] for row in rp.values()], color="tab:green")
        ax[3].set_title("c. Read path through the edge (req/s)")
    if "audience" in s:
        au = s["audience"]["origin_req_per_s"]
        ax[4].plot([int(n) for n in au], list(au.values()), marker="o")
        ax[4].set_xscale("log")
        ax[4].set_ylim(0, max(au.values()) * 1.5 + 0.01)
        ax[4].set_ylabel("origin requests/s")
        ratio = s["audience"]["ratio_largest_vs_smallest"]
        ax[4].text(0.05, 0.92, f"largest/smallest = {ratio}", transform=ax[4].transAxes)
        ax[4].set_xlabel("polling clients")
        ax[4].set_title("d. Origin requests/s, one results fragment")
    if "drain" in s:
        dr = s["drain"]["votes_per_s"]
        ax[5].bar([f"{k} writer(s)" for k in dr], list(dr.values()), color="tab:purple")
        ax[5].axhline(20000, color="red", linestyle="--", label="target 20,000/s")
        ax[5].legend()
        ax[5].set_title("e. Worker drain (votes/s persisted)")
    if "ingest" in s or "memory" in s:
        names, values = [], []
        for pid, mb in s.get("memory", {}).get("ingest_rss_mb_by_worker", {}).items():
            names.append(f"ingest {pid}")
            values.append(mb)
        for pid, mb in s.get("memory", {}).get("web_rss_mb_by_worker", {}).items():
            names.append(f"web {pid}")
            values.append(mb)
        ax[6].bar(names, values, color="tab:orange")
        ax[6].axhline(150, color="red", linestyle="--", label="ingest target 150 MB")
        ax[6].legend()
        ax[6].set_title("f. Peak RSS per worker at 2,000 connections (MB)")
    ax[7].axis("off")
    ax[7].text(
        0,
        1,
        "\n".join(f"{k}: {v}" for k, v in data["headline"].items()),
        va="top",
        family="monospace",
        fontsize=9,
    )
    for a in ax[:7]:
        a.tick_params(axis="x", labelrotation=15)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _ingest_panels(summary: dict, throughput, latency) -> None:
    conns = sorted({int(c) for by_c in summary.values() for c in by_c})
    width = 0.8 / len(summary)
    for i, (system, by_c) in enumerate(summary.items()):
        xs = [j + i * width for j, c in enumerate(conns) if str(c) in by_c]
        rates = [by_c[str(c)]["votes_per_s"] for c in conns if str(c) in by_c]
        throughput.bar(xs, rates, width, label=SYSTEM_LABELS[system])
        points = [(c, by_c[str(c)]["p99_ms"]) for c in conns if by_c.get(str(c), {}).get("p99_ms")]
        latency.plot(
            [c for c, _ in points],
            [p for _, p in points],
            marker="o",
            label=SYSTEM_LABELS[system],
        )
    throughput.set_xticks([j + 0.4 - width / 2 for j in range(len(conns))], [str(c) for c in conns])
    throughput.set_xlabel("connections")
    throughput.set_title("a. Votes accepted per second")
    throughput.legend(fontsize=8)
    latency.set_xscale("log")
    latency.set_yscale("log")
    latency.axhline(50, color="red", linestyle="--", linewidth=0.8)
    latency.set_xlabel("connections")
    latency.set_title("a. p99 latency (ms, log); red: 50 ms")
    latency.legend(fontsize=8)


def _spike_panel(spike: dict, ax) -> None:
    timeline = spike["timeline"]
    if len(timeline) < 2:
        return
    ts, rates, backlog = [], [], []
    for prev, cur in zip(timeline, timeline[1:], strict=False):
        dt = cur["t"] - prev["t"]
        if dt > 0:
            ts.append(cur["t"])
            rates.append((cur["added"] - prev["added"]) / dt)
            backlog.append(cur["backlog"])
    ax.plot(ts, rates, label="votes accepted/s")
    ax.set_ylabel("votes accepted/s")
    twin = ax.twinx()
    twin.plot(ts, backlog, color="tab:orange", label="worker backlog (votes)")
    twin.set_ylabel("worker backlog (votes)")
    twin.legend(fontsize=8, loc="upper right")
    p = spike["profile_s"]
    ax.axvspan(
        p["quiet"],
        p["quiet"] + p["ramp"] + p["peak"],
        color="grey",
        alpha=0.15,
        label="ramp and peak",
    )
    ax.set_xlabel("seconds")
    ax.set_title("b. Spike: accepted votes/s and backlog")
    ax.legend(fontsize=8, loc="upper left")
