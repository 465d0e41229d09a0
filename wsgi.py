"""WSGI entry point: `gunicorn wsgi:app` or `flask --app wsgi <command>`."""

from app import create_app
from app.config import Config

app = create_app(Config.from_env())
