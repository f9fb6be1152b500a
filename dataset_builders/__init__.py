"""How every published dataset is made: behaviour policies, recipes and the parallel collector.

Installed together with ``macca_hub`` (it is a package of the same distribution), so
``macca-hub build`` works after a plain ``pip install .``.
"""
