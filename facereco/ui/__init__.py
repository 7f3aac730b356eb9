"""Dashboard building blocks: drawing (Pillow), charts (plotly), session plumbing and widgets (Streamlit).

``drawing`` and ``charts`` do not import Streamlit; ``session`` and ``widgets`` do.
"""
