"""The cac311 domain: plain values and rules, no I/O."""
