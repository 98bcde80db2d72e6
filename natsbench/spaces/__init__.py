"""natsbench.spaces"""
