"""Every way in, and nothing else: the Streamlit app (app.py, screens/), the command line
(cli/) and the HTTP API (api.py). Each parses its input, calls one service function and
renders the answer."""
