"""Background retrieval: fetch OpenAI background responses until they finish, log each
outcome once, and checkpoint it so a rerun picks up where a run stopped.

    api.py         retrieve_background_responses and run_retrieval: arguments in, a run out
    options.py     RetrievalOptions, and the seed's RetrievalConfig/ColumnConfig mapped on it
    refs.py        the input DataFrame's responses as ResponseRefs (unique ids, join keys)
    job.py         one run: resume from the checkpoint, a fixed set of pollers, the results
    poller.py      one response followed to its end; its events; its outcome recorded
    outcome.py     how a response ended (Outcome) and its row of the results table
    client.py      one responses.retrieve: request slots, our retries, the SDK's off
    checkpoint.py  the JSON-lines journal a resumed run reads
    events.py      the background_retrieval_* event names and which ones are final
    discovery.py   the responses a log directory still owes (for df=None)
    cli.py         parquet-logger-retrieve, for cron-style jobs

Nothing is imported here, so that `import parquet_logger` stays free of pandas and openai.
"""
