"""The shapes generator and the training of the embedded `vitviz-shapes` model."""
