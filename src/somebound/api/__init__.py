"""somebound.api"""
