"""repair_assets"""
