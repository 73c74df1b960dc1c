"""Research side of vitviz: training the embedded models, data generators, benchmarks, model cards.

The product (core, analysis, render, views, ui) never imports this package.
"""
