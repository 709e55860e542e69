"""A user's own trajectory files (``dataset=custom``): read, check, split, window, write."""

from nri.data.custom.prepare import dataset_fields, prepare_custom, prepare_from_config

__all__ = ["dataset_fields", "prepare_custom", "prepare_from_config"]
