"""Every bad input of reliability_cases.py: exit code, one line without a traceback, files left."""

from __future__ import annotations

import pytest
from reliability_cases import CASES, Case, run_all

EXPECTED_COMMANDS = {"generate", "train", "eval", "infer"}


@pytest.fixture(scope="session")
def outcomes(reliability_fixtures, tmp_path_factory):
    return run_all(CASES, tmp_path_factory.mktemp("cases"), reliability_fixtures)


def test_the_suite_covers_every_command_with_25_distinct_inputs():
    assert {c.command for c in CASES} == EXPECTED_COMMANDS
    assert len({c.id for c in CASES}) == len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, outcomes):
    out = outcomes[case.id]
    report = f"exit {out.code}\nstdout:\n{out.stdout[-2000:]}\nstderr:\n{out.stderr[-3000:]}"
    assert out.code == case.code, report
    assert "Traceback" not in out.stderr, report
    assert out.line(case.message), report
    if case.code:
        assert len(out.errors()) == 1 and case.message in out.errors()[0], report
        assert out.left == sorted(case.left), report
    else:
        assert not out.errors(), report
        assert set(case.left) <= set(out.left), report
