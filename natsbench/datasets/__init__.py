"""natsbench.datasets"""
