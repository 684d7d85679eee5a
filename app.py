"""Routes and event handlers only; the logic lives in chalicelib/.

Cold starts import only what every function needs: routes are registered from chalicelib/route_index.py
and a blueprint module is imported on the first request to one of its routes (chalicelib/routing.py);
each event handler imports its job when it first runs.
"""

from chalicelib import startup

startup.pause()  # no cyclic garbage collection until the first invocation ends, in a Lambda only

import time  # noqa: E402

from chalice import Chalice, Rate  # noqa: E402

from chalicelib import config, metrics, observability, routing  # noqa: E402
from chalicelib.web import cors, normalize_errors  # noqa: E402

app = Chalice(app_name="procure")
app.register_middleware(startup.middleware, "all")  # outermost: it runs after everything else
app.register_middleware(cors, "http")  # first: it sees every response, errors included
app.register_middleware(normalize_errors, "http")
observability.install(app)
routing.register(app)


@app.schedule(Rate(1, unit=Rate.HOURS))
def heartbeat(event):
    from chalicelib.jobs import heartbeat as heartbeat_job

    return metrics.job(heartbeat_job.run(), time.monotonic())


@app.schedule(Rate(1, unit=Rate.DAYS))
def storage_sweep(event):
    from chalicelib.jobs import storage_sweep as storage_sweep_job

    started = time.monotonic()
    return metrics.job(storage_sweep_job.run(event.context), started)


@app.schedule(Rate(1, unit=Rate.DAYS))
def auto_confirm_receipt(event):
    from chalicelib.jobs import auto_confirm as auto_confirm_job

    started = time.monotonic()
    return metrics.job(auto_confirm_job.run(event.context), started)


@app.schedule(Rate(1, unit=Rate.HOURS))
def exchange_rates(event):
    from chalicelib.jobs import exchange_rates as exchange_rates_job

    started = time.monotonic()
    return metrics.job(exchange_rates_job.run(event.context), started)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def message_emails(event):
    from chalicelib.jobs import message_emails as message_emails_job

    started = time.monotonic()
    return metrics.job(message_emails_job.run(event.context), started)


@app.on_sqs_message(queue=config.get("PHOTO_QUEUE"), batch_size=10)
def photo_events(event):
    from chalicelib.events import photos as photo_events_handler

    # a partial batch response: only failed messages come back (ReportBatchItemFailures, infra/template.py)
    return photo_events_handler.handle_batch(record.to_dict() for record in event)


# emails and other side effects, from the outbox table's stream (chalicelib/events/outbox.py)
@app.on_dynamodb_record(
    stream_arn=config.outbox_stream_arn(), batch_size=25, starting_position="TRIM_HORIZON"
)
def outbox_events(event):
    from chalicelib.events import outbox as outbox_handler

    # a partial batch response: Lambda retries from the first failed record (ReportBatchItemFailures)
    return outbox_handler.handle_batch(record.to_dict() for record in event)
