"""Use cases, one per scheduled function or command; each only composes the library."""
