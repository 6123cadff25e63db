"""Heavy batch compute backends (local process pool; Dask) — used from the replenishment issue on."""
