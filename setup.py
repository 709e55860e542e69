"""Packaging that pyproject.toml alone cannot state: the top-level ``conf/`` tree (kept there for
the users who edit it) is installed inside the package as ``nri.conf``, so the console scripts
find their Hydra configs in a regular install (``pkg://nri.conf``, see nri/conf_path.py); the
pretrained checkpoints of ``nri/pretrained/`` ship as its package data."""

from setuptools import find_namespace_packages, find_packages, setup

# each config group folder is a data-only subpackage, so that its YAML files are package data
GROUPS = find_namespace_packages(where="conf", exclude=["__pycache__", "*.__pycache__"])
CONFIG_PACKAGES = ["nri.conf", *(f"nri.conf.{group}" for group in GROUPS)]

setup(
    packages=[*find_packages(include=["nri", "nri.*"]), *CONFIG_PACKAGES],
    package_dir={"nri.conf": "conf"},
    package_data={**{package: ["*.yaml"] for package in CONFIG_PACKAGES},
                  "nri.pretrained": ["*.ckpt", "*.json"]},  # the shipped models (ckpt=springs5)
)
