"""somebound.workforce"""
