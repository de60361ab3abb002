"""AWS protocol helpers: SigV4 request verification (the server's AWS-compatible API)."""
