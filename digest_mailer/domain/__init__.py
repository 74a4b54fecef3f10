"""Pure domain code: the digest and its sections, selection, schedule, the subscriber validator."""
