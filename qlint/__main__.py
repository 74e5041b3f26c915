from qlint.cli import main

# The guard matters: a process pool started with "spawn" imports this module again.
if __name__ == "__main__":
    raise SystemExit(main())
