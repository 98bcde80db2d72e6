"""natsbench.ops"""
