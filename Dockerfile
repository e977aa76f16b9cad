# Image for every Airflow service of docker-compose.yml: the project's pinned stack + this repo.
# The image is the unit of deployment (no source mounts): rebuild after pulling changes.
FROM python:3.11-slim-bookworm
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 50000 --gid 0 --create-home --home-dir /home/airflow airflow
WORKDIR /opt/credit-dw
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/requirements.txt -c requirements/constraints.txt
COPY . .
ENV PYTHONPATH=/opt/credit-dw/plugins AIRFLOW_HOME=/opt/airflow
# The dbt manifest is built into the image: Cosmos renders the build DAG from it in every container.
# Volumes mounted on /data and /opt/airflow/logs start with the ownership given here.
RUN pip install --no-cache-dir --no-deps -e . \
    && credit-dw dbt parse \
    && mkdir -p /opt/airflow/logs /data/landing /data/var \
    && chown -R airflow:0 /opt/airflow /data /opt/credit-dw/dbt_project /opt/credit-dw/expectations
USER airflow
