"""The main suite's fixtures (tiny data, fixed seeds), for ``pytest research/tests``."""

from tests.conftest import _seed, pytest_collection_modifyitems, tiny_springs  # noqa: F401
