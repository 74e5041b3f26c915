"""`qlint inspect`: the hazards qlint knows, read from a live broker instead of the code.

redis_state.py reads kombu's Redis layout with read commands only; expectations.py takes from
the project what the broker should be judged against (the visibility timeout in force, the
queues it configures); hazards.py turns the two into findings; render.py prints them. This
stage may import every stage below the command line; only the command line imports it."""
