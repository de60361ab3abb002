"""The edges: OS package managers, storage, process runner.  Each sits behind a port."""
