"""Where qlint's judgment starts when [tool.qlint] does not say: how long a task must run to
count as long, and how large a literal argument must be to count as data."""

# A task declared or limited to run longer than this is a long task (long-task-seconds).
DEFAULT_LONG_TASK_SECONDS = 300.0
# A literal argument above 64 KiB carries data, not a reference: ids, keys, names and
# small option dicts stay far below it. On the wire it grows by about 4/3 (base64 in a
# JSON envelope) and Redis keeps a second copy in `unacked` while the task runs; SQS
# historically capped a whole message at 256 KiB (about 192 KiB of payload), so a few
# such arguments already reach a broker limit.
DEFAULT_PAYLOAD_LITERAL_BYTES = 64 * 1024
