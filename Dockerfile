# The project image: every pipeline step, the KServe predictor and transformer, the batch jobs and the
# Spark Operator's driver and executors run it. Built by CI elsewhere (the development machines have no
# Docker engine): `docker build -t ghcr.io/skillrank/skillrank:0.1.0 .`, tagged as in manifests/image.
#
# Reproducible inputs: a fixed Python release on a fixed Debian release (bookworm, Debian 12, which ships
# OpenJDK 17 for Spark 4; the floating python:3.11-slim moved to Debian 13, which has no Java 17 package),
# and Python dependencies installed from requirements.lock, every file pinned by its hash, with no
# resolution at build time. To pin the base to the byte, append its digest: FROM python:...@sha256:....

FROM python:3.11.15-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
# --no-deps: the lock is the complete set, so pip installs exactly it and resolves nothing.
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock

WORKDIR /src
COPY pyproject.toml README.md ./
COPY components ./components
COPY pipelines ./pipelines
COPY feature_repo ./feature_repo
COPY inference ./inference
COPY monitoring ./monitoring
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation . \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/python -c "import components, feature_repo, inference, monitoring, pipelines"


FROM python:3.11.15-slim-bookworm

# Spark 4 runs on Java 17; procps gives Spark's scripts `ps`; tini is PID 1 (signals, zombie JVMs).
# The packages follow bookworm's security updates (a pinned JRE version would vanish from the archive
# with the next fix and break the build), so their versions are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps tini \
    && rm -rf /var/lib/apt/lists/*

# Spark looks the running user up in /etc/passwd: the manifests run as this uid (10001). Its home is
# /tmp, the one writable path when the root filesystem is read-only (an emptyDir in the manifests).
RUN groupadd --gid 10001 skillrank \
    && useradd --no-log-init --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
       --shell /usr/sbin/nologin skillrank

COPY --from=build /opt/venv /opt/venv
COPY docker/entrypoint.sh docker/spark_main.py docker/healthcheck.py /opt/skillrank/

ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    SPARK_HOME=/opt/venv/lib/python3.11/site-packages/pyspark \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    PYSPARK_DRIVER_PYTHON=/opt/venv/bin/python \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SKILLRANK_DATA_ROOT=/data

WORKDIR /tmp
USER 10001:10001

# For `docker run`: a serving container is healthy while its KServe server answers; Kubernetes uses the
# manifests' probes instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "/opt/skillrank/healthcheck.py"]

ENTRYPOINT ["/usr/bin/tini", "--", "/opt/skillrank/entrypoint.sh"]
CMD ["--help"]
