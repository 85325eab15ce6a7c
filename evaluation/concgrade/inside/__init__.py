"""Everything that runs inside a graded test process: boot, plugin, guard, probes, stress (stdlib and pytest only)."""
