"""nri.cli: a user's mistake ends a command with one ``error:`` line and exit status 2; a bug does not."""

from __future__ import annotations

import pytest

from nri.cli import exits_on_user_error, fail
from nri.data.errors import DatasetError, GenerationError, InputError
from nri.errors import ConfigError


@pytest.mark.parametrize("error", [DatasetError("no file x.npy"), InputError("no file x.npy"),
                                   GenerationError("no file x.npy"), ConfigError("no file x.npy")])
def test_a_user_error_is_one_line_and_exit_2(error, capsys):
    @exits_on_user_error()
    def command():
        raise error

    with pytest.raises(SystemExit) as info:
        command()
    assert info.value.code == 2
    assert capsys.readouterr().err == "error: no file x.npy\n"


def test_a_bug_keeps_its_traceback_unless_named():
    def command():
        raise KeyError("model")

    with pytest.raises(KeyError):
        exits_on_user_error()(command)()
    with pytest.raises(SystemExit):
        exits_on_user_error(KeyError)(command)()


def test_only_the_first_line_is_printed_and_results_pass_through(capsys):
    assert exits_on_user_error()(lambda: 7)() == 7
    with pytest.raises(SystemExit):
        fail("bad value\n  full key: dataset.num_atoms")
    assert capsys.readouterr().err == "error: bad value\n"


def test_the_datamodule_still_exports_dataset_error():
    from nri.data.datamodule import DatasetError as FromDatamodule

    assert FromDatamodule is DatasetError
