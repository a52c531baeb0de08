"""somebound.pipeline"""
