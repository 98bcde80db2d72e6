"""natsbench.train"""
