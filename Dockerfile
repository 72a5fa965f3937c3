# deliverables-bot: the webhook server in a container.
#
#   docker build -t deliverables-bot .
#   docker run --env-file .env -p 8080:8080 -p 9090:9090 -v deliverables-bot-data:/data deliverables-bot
#
# The journal of deliveries (SQLite) lives in the /data volume: keep it on persistent storage
# and run ONE container per volume (see deploy/kubernetes/deployment.yaml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The project only (no test extras), from a copy of the sources that is removed afterwards.
COPY pyproject.toml README.md LICENSE /tmp/src/
COPY bot /tmp/src/bot
RUN pip install --no-cache-dir /tmp/src && rm -rf /tmp/src

# A user of its own, owning the data folder; the folder is a volume (declared after the
# chown, so the volume starts with that owner).
RUN groupadd --gid 10001 bot \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /data --shell /usr/sbin/nologin bot \
    && mkdir /data && chown 10001:10001 /data
ENV DELIVERABLES_BOT_DATA=/data \
    PORT=8080 \
    METRICS_PORT=9090
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001

# PORT: webhooks, /healthz, /readyz; METRICS_PORT: /metrics (set METRICS_PORT= to serve it on PORT).
EXPOSE 8080 9090

# slim has no curl: Python asks /healthz; any failure (refused, timeout, non-2xx) exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.excepthook = lambda kind, error, tb: print(f'unhealthy: {error}', file=sys.stderr); urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT') or '8080'}/healthz\", timeout=4)"]

ENTRYPOINT ["deliverables-bot"]
CMD ["serve", "--host", "0.0.0.0"]
