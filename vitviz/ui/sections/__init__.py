"""The page's sections, top to bottom. Each module builds its components (`build`), owns its
texts and its module-level handlers, and wires them (`wire`) once every section exists."""
