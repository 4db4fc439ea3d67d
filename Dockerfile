# boxoffice: the API (`boxoffice serve`) and the background worker (`boxoffice worker`) in one
# image. Build: docker build -t boxoffice .   Run it with compose.yaml, or see docs/deploy.md.

# --- build: the package and its pinned dependencies into a virtual environment -------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
# Every dependency has a manylinux wheel: no compiler in either stage. The "lambda" extra is
# Mangum, for the same image on AWS Lambda (boxoffice.api.aws_lambda.handler).
RUN python -m venv /opt/boxoffice \
 && /opt/boxoffice/bin/pip install --upgrade "pip>=24" \
 && /opt/boxoffice/bin/pip install -c constraints.txt ".[lambda]"

# --- run: slim, no build tools, not root -----------------------------------------------------
FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 boxoffice \
 && useradd --system --uid 10001 --gid boxoffice --home-dir /var/lib/boxoffice \
      --create-home --shell /usr/sbin/nologin boxoffice
COPY --from=build /opt/boxoffice /opt/boxoffice
# The bundled plugins.toml is an example; mount your own at this path (docs/ops.md).
COPY plugins.toml /etc/boxoffice/plugins.toml
ENV PATH=/opt/boxoffice/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BOXOFFICE_HOST=0.0.0.0 \
    BOXOFFICE_PORT=8000 \
    BOXOFFICE_DATA_DIR=/var/lib/boxoffice \
    BOXOFFICE_PLUGINS_FILE=/etc/boxoffice/plugins.toml \
    BOXOFFICE_DRAIN_SECONDS=5
USER boxoffice:boxoffice
WORKDIR /var/lib/boxoffice
EXPOSE 8000
# Ready, not merely alive: the database answers and the schema is current (a draining
# process answers 503 and is taken out of rotation).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('BOXOFFICE_PORT', '8000'), timeout=2); sys.exit(0)"]
STOPSIGNAL SIGTERM
CMD ["boxoffice", "serve", "--workers", "2"]
