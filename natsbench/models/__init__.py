"""natsbench.models"""
