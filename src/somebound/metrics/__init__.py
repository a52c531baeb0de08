"""somebound.metrics"""
