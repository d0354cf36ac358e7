"""Read a service's /metrics and sum its samples, for the ops page's rates (a tiny Prometheus)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable, Mapping

from prometheus_client.parser import text_string_to_metric_families

Samples = list[tuple[str, dict[str, str], float]]


def fetch(url: str, *, timeout: float = 2.0) -> Samples:
    """Every sample at url as (name, labels, value); raises OSError when it does not answer."""
    # No proxies: the services are on this machine's loopback or the operators' network.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        text = response.read().decode()
    return [
        (sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def total(samples: Iterable[tuple[str, dict[str, str], float]], name: str, **match: str) -> float:
    """The sum of the samples called name whose labels match ("^5" matches by prefix)."""
    return sum(
        value
        for sample_name, labels, value in samples
        if sample_name == name and _matches(labels, match)
    )


def _matches(labels: Mapping[str, str], match: Mapping[str, str]) -> bool:
    for key, wanted in match.items():
        got = labels.get(key, "")
        if wanted.startswith("^"):  # a prefix, e.g. status="^5"
            if not got.startswith(wanted[1:]):
                return False
        elif got != wanted:
            return False
    return True
