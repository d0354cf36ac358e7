"""GET /votes/<receipt>/proof.json: a receipt's inclusion proof, once its results are final.

Served by ingest because the edge passes /votes/* there; private like the receipt itself. The
proof is two indexed reads (content/tally_proof.py), fetched by a fan once, not per vote.
"""

from __future__ import annotations

import json
import uuid

from flask import Blueprint, Flask, abort, current_app
from flask.wrappers import Response

from fanfare.content.tally_proof import inclusion_proof
from fanfare.http.cache_policy import PRIVATE
from fanfare.infra import db

bp = Blueprint("proofs", __name__)


@bp.get("/votes/<receipt>/proof.json")
def proof(receipt: str) -> Response:
    """The proof as a JSON download; 404 before the results are final or for no such vote."""
    try:
        vote_id = uuid.UUID(receipt)
    except ValueError:
        abort(404)
    with db.connection() as conn:
        found = inclusion_proof(conn, vote_id)
    if found is None:
        abort(404, description="The proof is ready once the results are final.")
    response = current_app.response_class(
        json.dumps(found, indent=2) + "\n", mimetype="application/json"
    )
    response.headers["Cache-Control"] = PRIVATE
    response.headers["Content-Disposition"] = f'attachment; filename="fanfare-proof-{vote_id}.json"'
    return response


def init_app(app: Flask) -> None:
    """Register the proof route."""
    app.register_blueprint(bp)
