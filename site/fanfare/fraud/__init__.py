"""Vote fraud, in layers: new-voter budget, proof-of-work challenge, detection, invalidation.

Flask-free, so ingest, the workers and the editor area share it; the Flask glue lives in
ingest/gate.py and web/admin/fraud.py.
"""
