"""Use cases shared by every shell: collect → evaluate → act → report."""
