"""Pipeline client for the setup function app (`python -m client submit REQUEST.json`)."""
