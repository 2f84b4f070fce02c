"""The yardstick for the bell's poll: a bare Flask app answering a few bytes, served by
gunicorn with the same settings as the portal (bench/poll.py)."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
