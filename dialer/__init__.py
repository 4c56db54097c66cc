"""The callback dialer: places due callbacks with AMI Originate under a cap and a pace."""

from dialer.dialer import Dialer, OriginateResult, Originator, outcome_from_result

__all__ = ["Dialer", "OriginateResult", "Originator", "outcome_from_result"]
