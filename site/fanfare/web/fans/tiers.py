"""Tiers by points, with the thresholds from the settings."""

from __future__ import annotations

from flask import current_app

from fanfare.predictions.rules import tier


def tier_of(points: int | None) -> str | None:
    """The tier for these points under this app's thresholds."""
    config = current_app.config
    return tier(
        int(points or 0),
        bronze=int(config["TIER_BRONZE_POINTS"]),
        silver=int(config["TIER_SILVER_POINTS"]),
        gold=int(config["TIER_GOLD_POINTS"]),
    )
