"""RQ jobs, their registry (queues, retry policies), the periodic schedule and the worker entry
point. The web application never imports this package: jobs are enqueued by name."""
