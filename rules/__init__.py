"""qlint's rules, one module per rule (installed as qlint.rules)."""
