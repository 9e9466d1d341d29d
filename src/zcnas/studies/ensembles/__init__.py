"""The ensemble study (``task=ensembles``): does a fixed combination of zero-cost proxies rank
architectures better than any single proxy, and what would a search ranking by it find?"""
