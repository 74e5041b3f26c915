"""`qlint lsp`: qlint's findings, fixes and setting documentation in editors (pygls)."""
