"""somebound.decisions"""
