"""Registers the `slow` marker (real pytest runs of tiny tasks) for this folder's tests."""

from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs real pytest processes; seconds rather than milliseconds")
