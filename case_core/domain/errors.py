"""Errors raised by the domain. Every message is meant to be shown to a person (in Spanish)."""

from __future__ import annotations


class DomainError(Exception):
    """A domain rule was broken; ``str(err)`` is a Spanish message fit for a user."""


class InvalidCedula(DomainError):
    """The text is not a valid Panamanian cédula."""


class InvalidPhone(DomainError):
    """The text is not a usable phone number."""


class IllegalTransition(DomainError):
    """The case cannot move from its status by that action."""


class InvalidSla(DomainError):
    """A service SLA is outside the legal range."""


class NotFound(DomainError):
    """The thing asked for does not exist."""


class AccessDenied(DomainError):
    """The user's role does not allow this."""
