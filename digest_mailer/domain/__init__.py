"""Pure domain code: the digest, selection, ranking, schedule, the subscriber validator."""
