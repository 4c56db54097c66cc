"""Request handlers: parse the request, call a service, render."""
