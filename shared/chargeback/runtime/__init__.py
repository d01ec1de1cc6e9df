"""The serverless runtime: what turns a platform's invocation into a job call.

    entry.py      lambda_entry / fc_entry: event -> settings (cold start) -> clients -> configuration -> job
    events.py     EventBridge Scheduler and Function Compute timer events, parsed into one ``Invocation``
    clients.py    the cloud clients of one invocation and the stores and configuration opened with them
    fc_server.py  Function Compute's custom-container HTTP protocol around ``handler(event, context)``
"""
