"""The Hydra config tree, installed as ``nri.conf``: Hydra's ``pkg://`` search path needs this file."""
