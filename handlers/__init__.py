"""Flask blueprints: verify the raw body, parse, persist, acknowledge. Nothing else."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from handlers import docs, errors, health, hubspot, observe, recordings, reviews, salesforce, zoom

    errors.register(app)
    observe.register(app)
    app.register_blueprint(docs.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(hubspot.bp)
    app.register_blueprint(salesforce.bp)
    app.register_blueprint(recordings.bp)
    app.register_blueprint(zoom.bp)
    app.register_blueprint(reviews.bp)
