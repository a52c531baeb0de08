"""Email: an SMTP listener that accepts mail as an MX would, MIME parsing, SMTP replies."""

from somebound.channels.email.listener import EmailListener
from somebound.channels.email.parse import parse_email
from somebound.channels.email.sender import SmtpSender

__all__ = ["EmailListener", "SmtpSender", "parse_email"]
