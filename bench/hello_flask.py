"""A second reference for the USSD benchmark: the same `CON hello`, but through Flask (routing,
request object, form parsing, response object), served by the same gunicorn settings. The
distance from bench/hello_wsgi.py is what the framework alone costs, before any gateway work.

    gunicorn 'bench.hello_flask:app'"""

from __future__ import annotations

from flask import Flask, Response, request

app = Flask(__name__)


@app.post("/ussd/africastalking")
def hello() -> Response:
    """Parse the form (as the gateway must) and answer `CON hello`."""
    request.form.get("text")
    return Response("CON hello", content_type="text/plain; charset=utf-8")
