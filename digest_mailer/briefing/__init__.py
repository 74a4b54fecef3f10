"""The briefing paragraph: the LLM briefer, its answer checks, and the extractive one."""

# The share of a briefing sentence's terms its cited papers must carry: faithful.py checks
# it and says how it was tuned. Here, so that the settings' default (DIGEST_LLM_MIN_SUPPORT)
# loads no checker at every start.
MIN_SUPPORT = 0.6
