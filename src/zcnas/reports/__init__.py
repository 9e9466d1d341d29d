"""Renderers: the analysis layer's tables as markdown, and its figures as PNG (matplotlib here only).

``correlation`` (table1.md), ``ensembles`` (ensembles.md), ``search_tables`` (tables.md) and
``figures`` (scatter plots, Figure 2).  They turn data into text or bytes and write no file.
"""
