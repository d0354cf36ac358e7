"""The dev harness: private services and the stack on free ports, for tests/, e2e/ and bench/.

It lives beside site/, not inside the fanfare package, so it never ships: nothing in production
imports it. pytest finds it through `pythonpath` in pyproject.toml; the bench scripts put the
repository root on sys.path themselves.
"""
