"""The FastAPI app over the store: JSON routes for tools and the dashboard's pages."""
