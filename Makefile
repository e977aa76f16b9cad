# One entry point for users and CI. Everything runs from the project's own .venv and keeps its
# state under var/ (git-ignored). WAREHOUSE_DSN selects an existing server; unset, the project
# manages its own PostgreSQL cluster under var/pg.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export CREDIT_DW_VAR ?= $(CURDIR)/var
export LANDING_ROOT ?= $(CREDIT_DW_VAR)/landing
export AIRFLOW_HOME ?= $(CREDIT_DW_VAR)/airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DEFAULT_TIMEZONE := Asia/Shanghai
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false
export PYTHONPATH := $(CURDIR)/plugins

.PHONY: help setup init demo test lint airflow warehouse-start warehouse-stop clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements/requirements.txt requirements/dev.txt requirements/constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt -c requirements/constraints.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

setup: $(STAMP)  ## create .venv from pinned requirements (no-op when unchanged)

warehouse-start: setup  ## start the project-managed PostgreSQL (no-op with WAREHOUSE_DSN)
	$(BIN)/credit-dw warehouse start

warehouse-stop: setup  ## stop the project-managed PostgreSQL
	$(BIN)/credit-dw warehouse stop

init: setup  ## bootstrap or upgrade the warehouse (database, schemas, roles, migrations)
	$(BIN)/credit-dw init

demo: setup  ## run the whole nightly pipeline on the bundled sample deliveries
	$(BIN)/credit-dw demo

test: setup  ## run the test suite against a real PostgreSQL
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: setup  ## ruff
	$(BIN)/ruff check .

airflow: setup  ## start a local Airflow (standalone) with the project's DAGs and UI
	$(BIN)/credit-dw airflow standalone

clean:  ## stop the cluster and remove var/ (all local state)
	-$(BIN)/credit-dw warehouse stop
	rm -rf var
