"""Tiny data, a tiny checkpoint and a CSV, made once per session for the failure-injection cases."""

from __future__ import annotations

import pytest
from reliability_cases import build_fixtures


@pytest.fixture(scope="session")
def reliability_fixtures(tmp_path_factory):
    return build_fixtures(tmp_path_factory.mktemp("reliability"))
