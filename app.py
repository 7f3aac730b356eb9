"""facereco dashboard (placeholder until the dashboard issue lands)."""

import streamlit as st

st.set_page_config(page_title="facereco", layout="wide")
st.title("facereco")
st.write("Dashboard for the NHN Cloud Face Recognition API v1.0 — pages arrive with the dashboard issue.")
