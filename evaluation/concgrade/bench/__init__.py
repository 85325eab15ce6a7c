"""The benchmark phase: time declared workloads on each implementation, in fresh processes, and judge the speedup."""
