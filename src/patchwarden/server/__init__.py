"""The fleet server: FastAPI app over the storage adapter (:func:`.app.create_app`)."""
