"""Routes and event handlers only; the logic lives in chalicelib/."""

from chalice import Chalice, Rate

from chalicelib import config
from chalicelib.api import catalog, identity, orders, packages, photos, staff, storage, wallet, warehouse
from chalicelib.api import docs as api_docs
from chalicelib.events import photos as photo_events_handler
from chalicelib.events.s3_records import objects_from_bodies
from chalicelib.jobs import auto_confirm as auto_confirm_job
from chalicelib.jobs import heartbeat as heartbeat_job
from chalicelib.jobs import storage_sweep as storage_sweep_job
from chalicelib.web import cors, normalize_errors

app = Chalice(app_name="procure")
app.register_middleware(cors, "http")  # first: it sees every response, errors included
app.register_middleware(normalize_errors, "http")
app.register_blueprint(identity.bp)
app.register_blueprint(catalog.bp)
app.register_blueprint(wallet.bp)
app.register_blueprint(orders.bp)
app.register_blueprint(staff.bp)
app.register_blueprint(photos.bp)
app.register_blueprint(warehouse.bp)
app.register_blueprint(storage.bp)
app.register_blueprint(packages.bp)
app.register_blueprint(api_docs.bp)


@app.schedule(Rate(1, unit=Rate.HOURS))
def heartbeat(event):
    return heartbeat_job.run()


@app.schedule(Rate(1, unit=Rate.DAYS))
def storage_sweep(event):
    return storage_sweep_job.run(event.context)


@app.schedule(Rate(1, unit=Rate.DAYS))
def auto_confirm_receipt(event):
    return auto_confirm_job.run(event.context)


@app.on_sqs_message(queue=config.get("PHOTO_QUEUE"), batch_size=10)
def photo_events(event):
    results = [photo_events_handler.ingest(obj) for obj in objects_from_bodies(r.body for r in event)]
    return {"processed": len(results)}
