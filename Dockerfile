# The project image: every pipeline step, the KServe predictor and transformer and the CronJobs run it.
# Built by CI elsewhere (no Docker engine on the development machines); tag as in kustomization.yaml.
FROM python:3.11-slim

# Spark 4 needs Java 17; procps gives Spark's scripts `ps`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
    && rm -rf /var/lib/apt/lists/*

# Spark looks the running user up in /etc/passwd: the manifests run as uid 1000.
RUN useradd --uid 1000 --create-home skillrank
WORKDIR /app
COPY pyproject.toml README.md ./
COPY components ./components
COPY pipelines ./pipelines
COPY feature_repo ./feature_repo
COPY inference ./inference
COPY monitoring ./monitoring
RUN pip install --no-cache-dir . && python -c "import components, inference, monitoring, pipelines"

ENV PYSPARK_PYTHON=python3 SKILLRANK_DATA_ROOT=/data
USER 1000
ENTRYPOINT ["skillrank"]
