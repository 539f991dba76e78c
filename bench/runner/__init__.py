"""The benchmark runner's parts: servers to start, loads to run, measurements, the report."""
