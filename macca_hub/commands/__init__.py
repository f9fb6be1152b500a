"""One module per ``macca-hub`` verb (see ``macca_hub.cli``)."""
