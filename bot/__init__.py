"""Reader side of newsbot: search the index, answer with citations, and the front ends (CLI, eval)."""
