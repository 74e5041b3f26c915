"""`qlint lsp`: qlint's findings, fixes and setting documentation in editors (pygls). Starts
checks through the pipeline and renders with the reports; never imports the command line or the
worker."""
