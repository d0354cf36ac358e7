"""The `fanfare` command: Flask's CLI bound to the web app (migrate, seed-demo, ...).

`verify-receipt` needs no app, no database and no network: anyone can run it on a downloaded
proof against the root the results page shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import FlaskGroup

from fanfare.app import create_web_app
from fanfare.votes import merkle

main = FlaskGroup(create_app=lambda: create_web_app(), help="fanfare: live award voting.")


@main.command("verify-receipt")
@click.argument("proof_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--root", required=True, help="The root shown on the results page (hex).")
def verify_receipt(proof_file: Path, root: str) -> None:
    """Check offline that the vote in PROOF_FILE is counted under ROOT (docs/verify.md)."""
    try:
        proof = json.loads(proof_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{proof_file} is not a proof file: {exc}") from exc
    if not isinstance(proof, dict) or not proof.get("included", True):
        raise click.ClickException("the proof says this vote is not in the count")
    if not merkle.verify(proof, root):
        raise click.ClickException(
            f"NOT VERIFIED: vote {proof.get('vote_id')} for nominee {proof.get('nominee_id')}"
            f" does not lead to root {root}"
        )
    click.echo(
        f"verified: vote {proof['vote_id']} for nominee {proof['nominee_id']} is leaf"
        f" {proof['leaf_index']} of {proof['tree_size']} under root {root.lower()}"
    )
