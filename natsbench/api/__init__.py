"""natsbench.api"""
