"""One test per attack of the safe-by-default rules (README, Security)."""
