"""Speech pipeline: the Prefect flow of `callqa run` and its stages, one module each."""

import os

# Self-hosted means no calls home: Prefect's temporary server and pyannote send usage telemetry
# unless told not to, and models load from disk, never from a hub.
for _key, _value in (("PREFECT_SERVER_ANALYTICS_ENABLED", "false"), ("DO_NOT_TRACK", "1"),
                     ("PYANNOTE_METRICS_ENABLED", "0"), ("HF_HUB_OFFLINE", "1")):
    os.environ.setdefault(_key, _value)
