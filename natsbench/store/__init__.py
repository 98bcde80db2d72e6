"""natsbench.store"""
