"""The briefing paragraph: the LLM briefer, its answer checks, and the extractive one."""
