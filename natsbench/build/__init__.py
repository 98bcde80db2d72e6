"""natsbench.build"""
