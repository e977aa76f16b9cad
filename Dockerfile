# Image for the Airflow services of docker-compose.yml: the project's pinned stack + this repo.
FROM python:3.11-slim-bookworm
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/credit-dw
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/requirements.txt -c requirements/constraints.txt
COPY . .
RUN pip install --no-cache-dir --no-deps -e . && credit-dw dbt parse || true
ENV PYTHONPATH=/opt/credit-dw/plugins
