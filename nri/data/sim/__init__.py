"""Simulated systems (springs, charged particles, Kuramoto) and the dataset writer over them."""
