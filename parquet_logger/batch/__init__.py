"""The batch helpers: `batch_run` (a DataFrame of prompts through a runnable) and
`batch_process` (the same, logged to a job's folder with a model made for you).

    run.py           batch_run and run_batch: options in, rows in this process or a pool
    options.py       BatchOptions: how rows run (concurrency, timeouts, retries, engine)
    rows.py          the in-process worker coroutines over one shared row iterator
    row_call.py      one row's call: tools, config, logged retries, a timed-out run's end
    process_pool.py  processes=N: shards run by worker processes, one bar, crash handling
    ray_engine.py    engine="ray", in the driver: chunks as Ray tasks, one bar, lost workers
    ray_task.py      engine="ray", in the worker: a chunk's rows streamed back, loggers flushed
    job.py           batch_process and run_job: the job's model, logger and metadata, the rows
    job_location.py  the job's folder and S3 target, resolved once (also for retrieval)
    facade.py        Batch and BatchOutcome: 4.0.0's API of the package users come from
    background.py    the background responses a Batch.run leaves queued, and their parsing
    job_options.py   JobOptions, batch_process's defaults, the seed's config objects mapped
    job_model.py     the model batch_process calls or creates (ChatOpenAI by default)
    job_paths.py     path_template / S3 prefix rendering, every segment made safe
    compat_config.py the config objects of langchain-callback-parquet-logger (RetrievalConfig too)

Nothing is imported here, so that `import parquet_logger` stays free of pandas and tenacity.
"""
