"""somebound.identity"""
