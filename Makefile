# sippbx — every command runs on the project's own Node 24 (node_modules/.bin first on PATH).
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

CONFIG ?=
NPM_STAMP := node_modules/.install-stamp

.PHONY: run test build lint typecheck unit bench deps test-deps clean kube-up

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@node --version | grep -q '^v24\.' || { echo "error: node_modules/.bin/node is not Node 24 (npm ci did not install the 'node' package)"; exit 1; }
	@touch $@

deps: $(NPM_STAMP)

build: deps
	rm -rf dist
	tsc -p tsconfig.build.json
	bash scripts/build-native.sh dist/native

## run: install, build, start the pbx on the embedded default config (or CONFIG=file.yaml)
run: build
	node dist/pbx/main.js $(if $(CONFIG),--config $(CONFIG))

## test-deps: Debian packages the tests drive (real SIP peers, real Redis)
test-deps:
	@bash scripts/ensure-debian-packages.sh

typecheck: deps
	tsc -p tsconfig.json --noEmit

lint: deps
	eslint .
	prettier --check .

## test: install what is missing, then lint, typecheck, unit, integration and e2e tests with coverage
test: deps test-deps lint typecheck build
	vitest run --coverage

## kube-up: the in-process Kubernetes API server of the tests, in the foreground (KUBE_PORT, KUBECONFIG_OUT)
kube-up: deps
	node test/kube/kube-up.ts

bench: build
	node dist/bench/parser.js

clean:
	rm -rf dist coverage node_modules
