"""A challenged vote's answer, read and solved as the browser would: in Python, with altcha."""

from __future__ import annotations

import html
import json
import re

import altcha


def pow_of(body: str) -> dict:
    """The proof-of-work challenge the answer carries for the JS solver."""
    return json.loads(html.unescape(re.search(r'data-pow-challenge="([^"]+)"', body).group(1)))


def timelock_of(body: str) -> str:
    """The no-JS time lock the answer carries."""
    return re.search(r'name="timelock" value="([^"]+)"', body).group(1)


def solve(challenge: dict) -> str:
    """What the browser's Web Worker does: the base64 altcha payload for the vote's resend."""
    parsed = altcha.Challenge.from_dict(challenge)
    return altcha.Payload(parsed, altcha.solve_challenge(parsed)).to_base64()


def solved(answer) -> str:
    """The solution to a challenged answer (a Flask test response)."""
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return solve(pow_of(answer.get_data(as_text=True)))
