"""somebound.listening"""
