"""somebound: one channel-independent hub for inbound, outbound and somebound contacts."""

__version__ = "0.1.0"
