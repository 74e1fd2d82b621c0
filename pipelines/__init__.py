"""Runnable pipelines: stages from :mod:`pipelines.stages` composed top to bottom.

- :mod:`pipelines.encode`: frames -> GOPs -> base layer -> enhancement layer -> container
- :mod:`pipelines.decode`: container -> base frames [-> enhancement] -> sink; base extraction
"""
