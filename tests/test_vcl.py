"""Every cdn/*.vtc, run by varnishtest against the real cdn/default.vcl and its includes."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from fanfare.settings import ROOT

VTC_FILES = sorted((ROOT / "cdn").glob("*.vtc"))


def test_every_vcl_concern_has_a_vtc_beside_it():
    concerns = {p.stem for p in (ROOT / "cdn").glob("*.vcl")} - {"default", "backends"}
    assert concerns, "cdn/ has no VCL concerns"
    assert concerns <= {p.stem for p in VTC_FILES}


@pytest.mark.parametrize("vtc", VTC_FILES, ids=lambda p: p.name)
def test_vtc(vtc, tmp_path):
    assert shutil.which("varnishtest"), "varnishtest is not installed: run `make test`"
    result = subprocess.run(
        ["varnishtest", "-t", "60", "-v", str(vtc)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
    )
    if result.returncode != 0:
        # The verbose log is long; the failing expectation is in its last lines.
        failing = [
            line
            for line in (result.stdout + result.stderr).splitlines()
            if line.startswith(("----", "**  "))
        ]
        pytest.fail(f"{vtc.name} failed:\n" + "\n".join(failing[-30:]))
