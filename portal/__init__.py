"""The Streamlit portal and the command line."""
