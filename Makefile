# dispute-ews: the two commands a new machine needs.
#   make demo   sets everything up and runs the whole pipeline on demo data (broker started for you)
#   make test   sets everything up (PostgreSQL included) and runs the test suite
# Both are idempotent: what is installed or cached already is reused.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
JARS   := .cache/kafka-jars/.complete

.PHONY: demo test chaos setup jars lint format clean

demo: setup
	$(BIN)/ews demo

AJV    := tests/ajv/node_modules/.package-lock.json

test: setup $(AJV)
	@EWS_TEST_PG_URL="$$(bash deploy/postgres.sh | tail -1)"; \
	 echo "PostgreSQL for the tests: $$EWS_TEST_PG_URL"; \
	 EWS_TEST_PG_URL="$$EWS_TEST_PG_URL" $(BIN)/pytest -ra $(PYTEST_ARGS)

# 100,000 records while processes are killed, the broker restarted and a case writer replaced
# (several minutes; not part of `make test`)
chaos: setup
	EWS_CHAOS=1 $(BIN)/pytest -s -ra tests/test_chaos.py

setup: $(VENV)/.installed $(JARS)

$(VENV)/.installed: pyproject.toml constraints.txt
	@command -v java >/dev/null || { echo "Java 17+ is needed (apt-get install default-jre-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is needed once to fetch the broker (apt-get install maven)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]" -c constraints.txt
	touch $@

# ajv, the independent JSON Schema validator of the schema parity test (npm registry)
$(AJV): tests/ajv/package.json tests/ajv/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js and npm are needed for the tests (apt-get install nodejs npm)"; exit 1; }
	cd tests/ajv && npm ci --no-audit --no-fund --silent

$(JARS): deploy/kafka/pom.xml $(VENV)/.installed
	$(BIN)/python -m deploy.kafka_local fetch

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var .pytest_cache
