"""somebound.channels"""
