"""Benchmarks print their figures and the machine; run with `make benchmarks`."""

import os
import platform

import pytest


@pytest.fixture(scope="session", autouse=True)
def machine():
    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
