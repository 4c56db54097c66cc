"""Outbound e-mail: SMTP delivery of the PostgreSQL mail outbox (case_core.services.mail)."""
