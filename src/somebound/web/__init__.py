"""somebound.web"""
